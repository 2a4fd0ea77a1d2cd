/**
 * FfmpegSource flow control (backpressure): pause()/resume() on a real ffmpeg child. A paused
 * source delivers nothing, leaves ffmpeg blocked on its pipe, and is not declared stalled; on
 * resume nothing was lost. The holds below are waits during which something must NOT happen
 * (they are several stall timeouts long), not timing assertions.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, it } from 'node:test';
import { FfmpegSource, type FfmpegSourceOptions } from '../../pipeline/sources/index.js';
import type { StreamConfig } from '../../pipeline/core/stream-config.js';
import { SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { pidAlive, recordedSource, type RecordingObserver, streamConfig, waitFor } from '../helpers/source-harness.js';

// Small frames: one 64 KiB pipe read holds several, so pausing mid-chunk parks the rest.
const W = 64;
const H = 48;
const STALL_MS = 300;
/** Five stall timeouts: a watchdog that counted paused time would certainly have fired. */
const HOLD_MS = 5 * STALL_MS;

const open: FfmpegSource[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

function make(cfg: StreamConfig, over: Partial<FfmpegSourceOptions> = {}): { src: FfmpegSource; obs: RecordingObserver; lines: string[] } {
  const made = recordedSource(cfg, {
    width: W,
    height: H,
    poolSize: 8,
    backoff: { minMs: 100, maxMs: 500 },
    stallTimeoutMs: STALL_MS,
    connectTimeoutMs: STALL_MS,
    killGraceMs: 300,
    ...over,
  });
  open.push(made.src);
  return made;
}

const unpacedOnce = (id: string): StreamConfig => streamConfig(id, SAMPLE_CLIP_VAL, { loop: false, realtime: false });

describe('FfmpegSource pause/resume', { timeout: 60_000 }, () => {
  it('paused at frame 10: nothing delivered, ffmpeg blocked, not stalled; resumed: all 100 frames in order, none dropped', async () => {
    const { src, obs } = make(unpacedOnce('bp-pause'));
    obs.afterFrame = () => {
      if (obs.frames.length === 10) {
        src.pause();
        src.pause(); // idempotent
      }
    };
    src.start();
    await waitFor(() => src.isPaused, 'paused at frame 10', 20_000, () => obs.describe());
    const pid = src.pid;
    assert.ok(pid !== null);
    await sleep(HOLD_MS);
    assert.equal(obs.frames.length, 10, 'no frame delivered while paused (frames cut from the same read are parked)');
    assert.equal(src.state, 'streaming', 'a paused source is not stalled');
    assert.deepEqual(obs.restarts, []);
    // 100 frames of 9 KiB exceed the pipe: an unblocked ffmpeg would have finished and been reaped.
    assert.ok(pidAlive(pid), 'ffmpeg waits on the full pipe');
    assert.equal(src.pid, pid);

    obs.afterFrame = null;
    src.resume();
    src.resume(); // idempotent
    assert.equal(src.isPaused, false);
    await waitFor(() => src.state === 'stopped', 'EOF after resume', 20_000, () => obs.describe());
    assert.equal(src.stateReason, 'eof');
    assert.deepEqual(obs.frames.map((f) => f.seq), [...Array(100).keys()], 'every frame, in order');
    for (const f of obs.frames) assert.equal(f.ptsMs, f.seq * 100, `pts of frame ${f.seq}`);
    assert.deepEqual(obs.drops, []);
    assert.deepEqual(obs.restarts, []);
    assert.deepEqual(obs.stateNames(), ['connecting', 'streaming', 'stopped']);
  });

  it('paused repeatedly, one frame at a time (as the batcher does): still every frame once, in order', async () => {
    const { src, obs } = make(unpacedOnce('bp-step'));
    // Pause on every frame and resume from a timer: each resume hands out exactly one frame.
    obs.afterFrame = () => {
      src.pause();
      setImmediate(() => src.resume());
    };
    src.start();
    await waitFor(() => src.state === 'stopped', 'EOF', 40_000, () => obs.describe());
    assert.deepEqual(obs.frames.map((f) => f.seq), [...Array(100).keys()]);
    assert.deepEqual(obs.drops, []);
    assert.deepEqual(obs.restarts, []);
  });

  it('paused near the end: ffmpeg writes its last frames and exits meanwhile; they come out after resume(), then EOF', async () => {
    const { src, obs } = make(unpacedOnce('bp-exit'));
    obs.afterFrame = () => {
      if (obs.frames.length === 95) src.pause();
    };
    src.start();
    await waitFor(() => src.isPaused, 'paused at frame 95', 20_000, () => obs.describe());
    const pid = src.pid as number;
    // 5 frames of 9 KiB fit in the pipe: ffmpeg finishes and exits (Node then flushes its pipe).
    await waitFor(() => !pidAlive(pid), 'ffmpeg exited while paused', 20_000);
    await sleep(HOLD_MS);
    assert.equal(obs.frames.length, 95, 'nothing delivered while paused');
    assert.notEqual(src.state, 'stopped', 'the exit waits for the frames before it');
    obs.afterFrame = null;
    src.resume();
    await waitFor(() => src.state === 'stopped', 'EOF after resume', 20_000, () => obs.describe());
    assert.equal(src.stateReason, 'eof');
    assert.deepEqual(obs.frames.map((f) => f.seq), [...Array(100).keys()]);
    assert.deepEqual(obs.drops, []);
    assert.deepEqual(obs.restarts, []);
  });

  it('pause() before start(): the child starts paused, is not declared stalled while connecting, and streams after resume()', async () => {
    const { src, obs } = make(unpacedOnce('bp-early'));
    src.pause();
    src.start();
    await sleep(HOLD_MS);
    assert.equal(obs.frames.length, 0);
    assert.equal(src.state, 'connecting');
    assert.deepEqual(obs.restarts, [], 'connect timeout not counted while paused');
    src.resume();
    await waitFor(() => src.state === 'stopped', 'EOF', 20_000, () => obs.describe());
    assert.equal(obs.frames.length, 100);
    assert.deepEqual(obs.drops, []);
  });

  it('the watchdog runs again after resume(): a child that then stops producing is declared stalled', async () => {
    const { src, obs } = make(streamConfig('bp-stall', SAMPLE_CLIP_VAL, { loop: true, realtime: false }));
    obs.afterFrame = () => {
      if (obs.frames.length === 5) src.pause();
    };
    src.start();
    await waitFor(() => src.isPaused, 'paused', 20_000, () => obs.describe());
    await sleep(HOLD_MS);
    assert.deepEqual(obs.restarts, []);
    obs.afterFrame = null;
    src.resume();
    await waitFor(() => obs.frames.length > 5, 'frames after resume', 20_000, () => obs.describe());
    const pid = src.pid as number;
    process.kill(pid, 'SIGSTOP'); // writes nothing, ignores SIGTERM: only the watchdog + SIGKILL end it
    await waitFor(() => obs.restarts.length >= 1, 'stall detected', 20_000, () => obs.describe());
    assert.equal(obs.restarts[0], 'stalled');
    assert.ok(obs.stateNames().includes('stalled'));
    await waitFor(() => !pidAlive(pid), 'stopped child killed');
  });

  it('close() while paused kills ffmpeg and resolves; parked frames are dropped as shutdown', async () => {
    const { src, obs } = make(streamConfig('bp-close', SAMPLE_CLIP_VAL, { loop: true, realtime: false }));
    obs.afterFrame = () => {
      if (obs.frames.length === 5) src.pause();
    };
    src.start();
    await waitFor(() => src.isPaused, 'paused', 20_000, () => obs.describe());
    const pid = src.pid as number;
    await sleep(200); // let ffmpeg fill the pipe
    await src.close();
    assert.ok(!pidAlive(pid), `ffmpeg ${pid} gone`);
    assert.equal(src.state, 'stopped');
    assert.equal(src.stateReason, 'closed');
    assert.equal(obs.frames.length, 5, 'nothing delivered after the pause');
    assert.ok(obs.drops.every((d) => d === 'shutdown'), `drops: ${obs.drops.join(',')}`);
    assert.equal(src.stats.dropped, obs.drops.length);
    src.resume(); // no effect once closed
    assert.equal(src.state, 'stopped');
  });
});
