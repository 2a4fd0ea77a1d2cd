import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { SegdError } from '../../pipeline/core/errors.js';
import { FfmpegSource, type FfmpegSourceOptions } from '../../pipeline/sources/index.js';
import type { StreamConfig } from '../../pipeline/core/stream-config.js';
import { SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { pidAlive, recordedSource, type RecordingObserver, streamConfig, waitFor } from '../helpers/source-harness.js';

const W = 64;
const H = 48;

/** Every source a test makes is closed afterwards, pass or fail. */
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
    ...over,
  });
  open.push(made.src);
  return made;
}

describe('FfmpegSource (file)', () => {
  it('emits every frame at the configured size with increasing seq and the stream pts, then stops at EOF', async () => {
    const { src, obs } = make(streamConfig('cam-eof', SAMPLE_CLIP_VAL, { loop: false, realtime: false }));
    src.start();
    await waitFor(() => src.state === 'stopped', 'EOF');
    assert.equal(src.stateReason, 'eof');
    assert.deepEqual(obs.stateNames(), ['connecting', 'streaming', 'stopped']);
    assert.equal(obs.frames.length, 100, 'the clip has 100 frames');
    assert.deepEqual(obs.frames.map((f) => f.seq), [...Array(100).keys()]);
    for (const f of obs.frames) {
      assert.equal(f.streamId, 'cam-eof');
      assert.equal(f.width, W);
      assert.equal(f.height, H);
      assert.equal(f.bytes, W * H * 3);
      // 10 fps clip starting at 0: frame k is at k*100 ms, matched from showinfo for every frame.
      assert.equal(f.ptsMs, f.seq * 100, `pts of frame ${f.seq}`);
    }
    assert.deepEqual(obs.restarts, []);
    assert.deepEqual(obs.drops, []);
    assert.equal(src.stats.frames, 100);
    assert.equal(src.pid, null, 'no child after EOF');
  });

  it('loops a file: one child, seq keeps counting past the clip, pts keeps growing', async () => {
    const { src, obs } = make(streamConfig('cam-loop', SAMPLE_CLIP_VAL, { loop: true, realtime: false }));
    src.start();
    await waitFor(() => obs.frames.length >= 250, '250 frames from a 100-frame clip');
    const pid = src.pid;
    await src.close();
    assert.ok(pid !== null && !pidAlive(pid));
    const seqs = obs.frames.map((f) => f.seq);
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, 'seq strictly increasing');
    // ffmpeg offsets each pass by the clip duration, so pts stays continuous across loops.
    for (const f of obs.frames) assert.equal(f.ptsMs, f.seq * 100, `pts of frame ${f.seq}`);
    assert.ok(obs.frames.at(-1)!.ptsMs! >= 20_000, 'pts from the third pass');
    assert.deepEqual(obs.restarts, [], 'looping needs no restart');
    assert.equal(obs.stateNames().filter((s) => s === 'connecting').length, 1);
  });

  it('counts pool_exhausted drops while the consumer holds every buffer, then resumes; frames release exactly once', async () => {
    const { src, obs } = make(streamConfig('cam-pool', SAMPLE_CLIP_VAL), { poolSize: 3 });
    obs.hold = true;
    src.start();
    await waitFor(() => obs.drops.length >= 3, 'pool exhaustion');
    assert.equal(obs.held.length, 3, 'one frame per pool buffer');
    assert.ok(obs.drops.every((d) => d === 'pool_exhausted'));
    assert.equal(src.stats.dropped, obs.drops.length);
    const first = obs.held[0]!;
    obs.hold = false;
    obs.releaseHeld();
    assert.throws(() => first.release(), /released twice/);
    const before = obs.frames.length;
    await waitFor(() => obs.frames.length >= before + 3, 'frames after release');
    // Dropped frames still consumed a seq number: the gap shows the loss downstream.
    const last = obs.frames.at(-1)!;
    assert.ok(last.seq >= obs.frames.length + 3 - 1, `seq ${last.seq} counts the drops`);
  });

  it('restarts an ffmpeg child killed from outside', async () => {
    const { src, obs } = make(streamConfig('cam-kill', SAMPLE_CLIP_VAL));
    src.start();
    await waitFor(() => src.state === 'streaming', 'streaming');
    const pid = src.pid!;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => obs.restarts.length === 1 && src.state === 'streaming', 'restart and streaming again');
    assert.deepEqual(obs.restarts, ['exited']);
    assert.notEqual(src.pid, pid);
    assert.ok(!pidAlive(pid));
    assert.deepEqual(obs.stateNames(), ['connecting', 'streaming', 'backoff', 'connecting', 'streaming']);
    assert.equal(src.stats.restarts, 1);
  });

  it('a stream that stops producing frames is declared stalled, killed and restarted', async () => {
    const { src, obs } = make(streamConfig('cam-stall', SAMPLE_CLIP_VAL), { stallTimeoutMs: 1000, killGraceMs: 300 });
    src.start();
    await waitFor(() => src.state === 'streaming', 'streaming');
    const pid = src.pid!;
    // A stopped process writes nothing and ignores SIGTERM: only the watchdog + SIGKILL get it out.
    process.kill(pid, 'SIGSTOP');
    await waitFor(() => obs.restarts.length >= 1 && src.state === 'streaming', 'stall detected, restarted');
    assert.deepEqual(obs.restarts.slice(0, 1), ['stalled']);
    assert.deepEqual(obs.stateNames().slice(0, 5), ['connecting', 'streaming', 'stalled', 'backoff', 'connecting']);
    assert.ok(!pidAlive(pid), 'stopped child was killed');
  });

  it('close() is idempotent, resolves once the child is dead, and leaves no process', async () => {
    const { src, obs } = make(streamConfig('cam-close', SAMPLE_CLIP_VAL));
    src.start();
    await waitFor(() => src.state === 'streaming', 'streaming');
    const pid = src.pid!;
    assert.ok(pidAlive(pid));
    const a = src.close();
    const b = src.close();
    assert.equal(a, b);
    await a;
    assert.ok(!pidAlive(pid), `ffmpeg ${pid} gone`);
    assert.equal(src.state, 'stopped');
    assert.equal(src.stateReason, 'closed');
    assert.equal(src.pid, null);
    await src.close();
    src.start(); // no effect after close
    assert.equal(src.pid, null);
    assert.equal(obs.states.at(-1)?.state, 'stopped');
  });

  it('an unusable ffmpeg path backs off and retries (spawn_failed) and close() ends it', async () => {
    const { src, obs } = make(streamConfig('cam-noexe', SAMPLE_CLIP_VAL), { ffmpegPath: '/nonexistent/ffmpeg' });
    src.start();
    await waitFor(() => obs.restarts.length >= 2, 'two retries');
    assert.ok(obs.restarts.every((r) => r === 'spawn_failed'));
    assert.ok(obs.stateNames().includes('backoff'));
    await src.close();
    assert.equal(src.state, 'stopped');
  });

  it('a bad URL throws SEGD_SOURCE_URL_INVALID from the constructor, naming the stream', () => {
    assert.throws(
      () => make(streamConfig('cam-bad', 'ftp://u:hunter2@h/x')),
      (err: unknown) =>
        err instanceof SegdError &&
        err.code === 'SEGD_SOURCE_URL_INVALID' &&
        err.message.startsWith('streams[cam-bad].url:') &&
        !err.message.includes('hunter2'),
    );
  });
});
