/**
 * The reference side of the end-to-end mask tests: the clip decoded here exactly as the daemon's
 * source decodes it (same ffmpeg, same arguments, minus pacing), and each received mask compared
 * byte for byte with onnxruntime-node's own run of that model on the frame the mask's seq names
 * (seq = n-th decoded frame of a non-looping file stream).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import type { MaskMessage } from '../../clients/ts/protocol-client.js';
import { buildFfmpegArgs, parseSourceUrl } from '../../pipeline/sources/index.js';
import { FFMPEG_PATH } from './paths.js';

/** The card fields these tests read (the card beside the model, docs/model-contract.md). */
export interface CardInfo {
  readonly name: string;
  readonly architecture: string;
  readonly input: { readonly height: number; readonly width: number };
  readonly classes: readonly unknown[];
}

export function readCardBeside(modelPath: string): CardInfo {
  return JSON.parse(readFileSync(modelPath.replace(/\.onnx$/, '.json'), 'utf8')) as CardInfo;
}

/** Every frame of `clip` as rgb24 width×height, concatenated. */
export function decodeClipFrames(clip: string, width: number, height: number): Buffer {
  const args = buildFfmpegArgs({
    source: parseSourceUrl(clip),
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

/**
 * Asserts each mask (of one stream, in arrival order) is raw, the card's size and model, has
 * increasing seq, and equals `InferenceSession.run` on frame `seq` of `frames` with the
 * daemon's test settings (cpu, one thread each: the same kernels, so the same argmax ties).
 * Returns the direct run's masks, for callers that check more.
 */
export async function expectMasksEqualDirectRun(
  modelPath: string,
  card: CardInfo,
  masks: readonly MaskMessage[],
  frames: Buffer,
): Promise<Uint8Array[]> {
  const { width, height } = card.input;
  const frameBytes = width * height * 3;
  const session = await InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const expected: Uint8Array[] = [];
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
      const want = out['mask']?.data as Uint8Array;
      assert.equal(want.length, m.payload.length);
      assert.ok(Buffer.from(m.payload).equals(Buffer.from(want)), `${card.name}: mask of seq ${m.seq} differs from the direct run`);
      assert.ok(m.payload.every((v) => v < card.classes.length), 'class ids within the card');
      expected.push(want);
    }
  } finally {
    await session.release();
  }
  return expected;
}
