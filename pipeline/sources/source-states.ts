/**
 * Where a stream's state may go next (the source's Supervisor enforces it):
 *
 *   stopped ──start──▶ connecting ──first_frame──▶ streaming
 *                       │  ▲                          │
 *        no_frame_timeout  └──retry── backoff ◀──exit─┤ (exited / spawn_failed / stalled)
 *                       ▼                 ▲           ▼
 *                     stalled ──child gone┘        stalled
 *
 * Any state → stopped on close(); connecting/streaming → stopped on a file's end (no loop).
 * stopped → stopped only changes the reason (eof, then closed). Nothing leaves a stall but the
 * child's exit: frames the killed child still flushes do not make it "streaming" again.
 */
import type { StreamState } from '../core/reasons.js';
import type { TransitionTable } from '../core/supervisor.js';

export const SOURCE_TRANSITIONS: TransitionTable<StreamState> = {
  stopped: ['connecting', 'stopped'],
  connecting: ['streaming', 'stalled', 'backoff', 'stopped'],
  streaming: ['stalled', 'backoff', 'stopped'],
  stalled: ['backoff', 'stopped'],
  backoff: ['connecting', 'stopped'],
};
