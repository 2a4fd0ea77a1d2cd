/**
 * Who sets a stream's pace. Decided once per stream, at construction (daemon/app.ts), from the
 * source alone — there is no config switch, because the answer follows from what the source is:
 *
 * - 'backpressure': a file read with `realtime: false` has no clock of its own, so the pipeline
 *   is its clock. The source is paused while the stream's batcher queue is full and resumed when
 *   the batcher takes the frame: every frame is inferred, none is dropped as `queue_full`, and
 *   ffmpeg never decodes frames that would be thrown away (it waits on its pipe, costing no CPU).
 * - 'newest_wins': a live source (RTSP, HTTP/HLS, v4l2) or a file paced at its native rate
 *   (`realtime: true`) cannot be slowed down; a late frame is worth less than a fresh one, so a
 *   full queue evicts its oldest frame and counts the drop (`queue_full`).
 */
import type { StreamConfig } from '../core/stream-config.js';
import { parseSourceUrl } from './source-url.js';

export type Pacing = 'backpressure' | 'newest_wins';

/** Throws SEGD_SOURCE_URL_INVALID for a bad URL, like the source itself. */
export function pacingOf(cfg: Pick<StreamConfig, 'id' | 'url' | 'realtime'>): Pacing {
  const kind = parseSourceUrl(cfg.url, `streams[${cfg.id}].url`).kind;
  return kind === 'file' && !cfg.realtime ? 'backpressure' : 'newest_wins';
}
