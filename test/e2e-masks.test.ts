// End to end: the built daemon on the shared clip; a real `ws` client receives masks, and a
// received mask is byte-equal to what the model gives for that frame through onnxruntime directly
// (the frame decoded here with ffmpeg to the same rgb24, identified by seq = n-th decoded frame).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { buildFfmpegArgs, parseSourceUrl } from '../pipeline/sources/index.js';
import { FFMPEG_PATH, SAMPLE_CLIP_VAL } from './helpers/paths.js';
import { MODEL_PATH, makeTempDir, startDaemonProcess, testConfig, writeConfig, type DaemonProcess } from './helpers/daemon.js';
import { E2eClient } from './helpers/e2e-client.js';

interface Card {
  name: string;
  input: { height: number; width: number };
  classes: unknown[];
}

/** Every frame of the clip as the daemon's source decodes it (same ffmpeg, same arguments, minus pacing). */
function decodeAllFrames(width: number, height: number): Buffer {
  const args = buildFfmpegArgs({
    source: parseSourceUrl(SAMPLE_CLIP_VAL),
    loop: false,
    realtime: false,
    rtspTransport: 'tcp',
    width,
    height,
    maxFps: null,
    showinfo: true,
    ioTimeoutMs: 5000,
  });
  const r = spawnSync(FFMPEG_PATH, args, { maxBuffer: 256 * 1024 * 1024, timeout: 60000 });
  assert.equal(r.status, 0, r.stderr?.toString().slice(-2000));
  return r.stdout;
}

describe('e2e: masks from the daemon equal the model run directly', { timeout: 120000 }, () => {
  const card = JSON.parse(readFileSync(MODEL_PATH.replace(/\.onnx$/, '.json'), 'utf8')) as Card;
  const { width, height } = card.input;
  let tmp: ReturnType<typeof makeTempDir>;
  let daemon: DaemonProcess | null = null;
  let client: E2eClient | null = null;

  before(async () => {
    tmp = makeTempDir('segd-e2e-masks-');
    // One stream: every batch holds one frame, exactly what the direct run below does.
    const cfg = testConfig([{ id: 'val', url: SAMPLE_CLIP_VAL, loop: false, realtime: true }]);
    daemon = await startDaemonProcess({ args: ['run', '--config', writeConfig(tmp.dir, cfg)] });
    await daemon.waitForReady();
  });
  after(async () => {
    await client?.terminate();
    await daemon?.stop();
    tmp.cleanup();
  });

  it('a ws client receives masks whose bytes equal InferenceSession.run on the same decoded frame', async () => {
    const d = daemon as DaemonProcess;
    client = await E2eClient.connect(d.wsUrl);
    assert.equal(client.hello.model, card.name);
    assert.deepEqual(client.hello.streams, ['val']);
    client.keep = (m) => m.streamId === 'val';
    await client.waitUntil(() => (client as E2eClient).kept.length >= 3, '3 masks of stream val', 60000);
    const masks = client.kept.slice(0, 3);

    const frames = decodeAllFrames(width, height);
    const frameBytes = width * height * 3;
    const session = await InferenceSession.create(MODEL_PATH, {
      executionProviders: ['cpu'],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    try {
      let previousSeq = -1;
      for (const m of masks) {
        assert.equal(m.modelId, card.name);
        assert.equal(m.encoding, 'raw');
        assert.equal(m.width, width);
        assert.equal(m.height, height);
        assert.ok(m.seq > previousSeq, `seq increases: ${m.seq} after ${previousSeq}`);
        previousSeq = m.seq;
        assert.ok((m.seq + 1) * frameBytes <= frames.length, `seq ${m.seq} is a frame of the clip`);
        const frame = new Uint8Array(frames.buffer, frames.byteOffset + m.seq * frameBytes, frameBytes);
        const out = await session.run({ frames: new Tensor('uint8', frame, [1, height, width, 3]) });
        const expected = out['mask']?.data as Uint8Array;
        assert.equal(expected.length, m.payload.length);
        assert.ok(Buffer.from(m.payload).equals(Buffer.from(expected)), `mask of seq ${m.seq} differs from the direct run`);
        assert.ok(m.payload.every((v) => v < card.classes.length), 'class ids within the card');
      }
      // Not vacuous: distinct frames give distinct masks, so a stale or shifted frame would not match.
      const [a, b] = masks;
      assert.ok(a && b && !Buffer.from(a.payload).equals(Buffer.from(b.payload)), 'two different frames gave different masks');
    } finally {
      await session.release();
    }
  });
});
