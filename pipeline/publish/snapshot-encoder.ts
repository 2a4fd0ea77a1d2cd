/**
 * Snapshots encoded off the event loop: one worker thread (snapshot-worker.ts) and a bounded
 * number of jobs in it. encode() copies the frame and mask (the batch's buffers are reused after
 * onFrame) and returns null when the worker already holds `maxJobs`: the caller drops that
 * snapshot and counts it; frames never wait for an encode.
 */
import { Worker } from 'node:worker_threads';
import type { SnapshotJob } from './snapshot-render.js';
import type { SnapshotReply, SnapshotRequest } from './snapshot-worker.js';

export const SNAPSHOT_WORKER_URL = new URL('./snapshot-worker.js', import.meta.url);

interface Pending {
  resolve(jpeg: Buffer): void;
  reject(err: Error): void;
}

export class SnapshotEncoder {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;

  constructor(private readonly maxJobs = 2) {
    this.worker = new Worker(SNAPSHOT_WORKER_URL);
    this.worker.unref();
    this.worker.on('message', (m: SnapshotReply) => {
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      if ('jpeg' in m) p.resolve(Buffer.from(m.jpeg.buffer, m.jpeg.byteOffset, m.jpeg.byteLength));
      else p.reject(new Error(`snapshot encode failed: ${m.error}`));
    });
    this.worker.on('error', (err) => this.failAll(err));
    this.worker.on('exit', (code) => this.failAll(new Error(`snapshot worker exited (${code})`)));
  }

  /** Jobs in the worker now. */
  get busy(): number {
    return this.pending.size;
  }

  /** A JPEG of the job, or null when the worker is full (or closed): nothing was copied then. */
  encode(job: SnapshotJob): Promise<Buffer> | null {
    if (this.closed || this.pending.size >= this.maxJobs) return null;
    const rgb = job.rgb.slice(0, job.width * job.height * 3);
    const mask = job.mask.slice(0, job.width * job.height);
    const id = this.nextId++;
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const req: SnapshotRequest = { id, job: { ...job, rgb, mask } };
      this.worker.postMessage(req, [rgb.buffer, mask.buffer]);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new Error('snapshot encoder closed'));
    await this.worker.terminate();
  }

  private failAll(err: Error): void {
    this.closed = true;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
