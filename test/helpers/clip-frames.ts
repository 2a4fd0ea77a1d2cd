/** The first frames of the sample val clip as rgb24 at its native 480×360, decoded by the real ffmpeg. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { FFMPEG_PATH, SAMPLE_CLIP_HEIGHT, SAMPLE_CLIP_VAL, SAMPLE_CLIP_WIDTH } from './paths.js';

const FRAME_BYTES = SAMPLE_CLIP_WIDTH * SAMPLE_CLIP_HEIGHT * 3;

/** `count` frames, each its own Uint8Array (copied out of ffmpeg's output). */
export function firstClipFrames(count: number): Uint8Array[] {
  const r = spawnSync(
    FFMPEG_PATH,
    ['-nostdin', '-v', 'error', '-i', SAMPLE_CLIP_VAL, '-frames:v', String(count), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
    { maxBuffer: count * FRAME_BYTES + 1024 },
  );
  assert.equal(r.status, 0, `ffmpeg failed: ${r.stderr?.toString()}`);
  assert.equal(r.stdout.length, count * FRAME_BYTES);
  return Array.from({ length: count }, (_, k) => new Uint8Array(r.stdout.subarray(k * FRAME_BYTES, (k + 1) * FRAME_BYTES)));
}
