/**
 * The snapshot worker thread: blends, outlines (snapshot-render.ts) and encodes (sharp, on
 * libuv's pool) one job at a time, so none of it runs on the daemon's event loop.
 */
import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import { renderSnapshot, type SnapshotJob } from './snapshot-render.js';

sharp.cache(false);

export interface SnapshotRequest {
  readonly id: number;
  readonly job: SnapshotJob;
}
export type SnapshotReply = { readonly id: number; readonly jpeg: Uint8Array } | { readonly id: number; readonly error: string };

parentPort?.on('message', (m: SnapshotRequest) => {
  const { id, job } = m;
  let pixels: Uint8Array;
  try {
    pixels = renderSnapshot(job);
  } catch (err) {
    parentPort?.postMessage({ id, error: String(err) } satisfies SnapshotReply);
    return;
  }
  sharp(pixels, { raw: { width: job.width, height: job.height, channels: 3 } })
    .jpeg({ quality: job.quality, chromaSubsampling: '4:4:4' })
    .toBuffer()
    .then(
      (jpeg) => parentPort?.postMessage({ id, jpeg } satisfies SnapshotReply, [jpeg.buffer as ArrayBuffer]),
      (err: unknown) => parentPort?.postMessage({ id, error: String(err) } satisfies SnapshotReply),
    );
});
