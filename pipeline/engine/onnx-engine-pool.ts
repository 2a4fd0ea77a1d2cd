/**
 * Several ONNX Runtime sessions of one model side by side (model.sessions), each an OnnxEngine in
 * its own worker thread, taking batches in turn: the batcher keeps up to `sessions` batches in
 * flight and hands results on in order (as for Triton).
 *
 * Why: on a small CPU one session's intra-op parallelism loses time at every operator's barrier,
 * and more so when decoding and the main thread preempt one of its threads. N sessions of one
 * thread each have no barrier between them. Measured here (docs/performance.md): 2 × 1 thread
 * gave more frames/s than 1 × 2 threads for the shipped model. Each batch then takes longer (one
 * thread instead of two), so latency under light load rises while throughput under load rises.
 *
 * Buffers: acquireInput() hands out a ring of `sessions` plain buffers (the batcher reads a batch's
 * pixels from it after the run, so they must not travel to a worker); run() copies the frames into
 * that session's own transfer buffer (one memcpy, ~1 MB a batch of 2) and runs there. Runs go to
 * the sessions in turn, so with at most `sessions` batches alive, a session is free again when the
 * ring comes round to it.
 *
 * Failure: each session supervises its own worker (onnx-engine.ts); the first to give up for good
 * fails the pool (onFailed once). All sessions use the provider the first one chose, so a fallback
 * never differs between them.
 */
import { SegdError } from '../core/errors.js';
import type { SegEngine } from './engine.js';
import { OnnxEngine, type OnnxEngineOptions } from './onnx-engine.js';

export interface OnnxEnginePoolOptions extends OnnxEngineOptions {
  /** Sessions (worker threads) running batches side by side; 1 = a plain OnnxEngine. */
  readonly sessions: number;
}

/** One session: an OnnxEngine. More: a pool of them. */
export async function createOnnxEngines(opts: OnnxEnginePoolOptions): Promise<SegEngine> {
  if (!Number.isInteger(opts.sessions) || opts.sessions < 1) throw new RangeError(`model.sessions: expected an integer >= 1, got ${String(opts.sessions)}`);
  if (opts.sessions === 1) return OnnxEngine.create(opts);
  return OnnxEnginePool.create(opts);
}

export class OnnxEnginePool implements SegEngine {
  readonly modelPath: string;
  readonly cardPath: string;
  readonly card: OnnxEngine['card'];
  readonly provider: OnnxEngine['provider'];
  readonly inputHeight: number;
  readonly inputWidth: number;
  readonly maxBatch: number;
  readonly maxInFlight: number;

  private readonly members: readonly OnnxEngine[];
  private readonly ring: readonly Uint8Array[];
  private readonly frameBytes: number;
  /** The ring slot acquireInput() hands out next, and the one the next run() reads. */
  private next = 0;
  private acquired = -1;
  private inFlight = 0;

  private constructor(members: readonly OnnxEngine[]) {
    const first = members[0] as OnnxEngine;
    this.members = members;
    this.modelPath = first.modelPath;
    this.cardPath = first.cardPath;
    this.card = first.card;
    this.provider = first.provider;
    this.inputHeight = first.inputHeight;
    this.inputWidth = first.inputWidth;
    this.maxBatch = first.maxBatch;
    this.frameBytes = first.frameBytes;
    this.maxInFlight = members.length;
    this.ring = members.map(() => new Uint8Array(this.maxBatch * this.frameBytes));
  }

  static async create(opts: OnnxEnginePoolOptions): Promise<OnnxEnginePool> {
    let failed = false;
    const onFailed = (err: SegdError): void => {
      if (failed) return;
      failed = true;
      opts.onFailed?.(err);
    };
    const members: OnnxEngine[] = [];
    try {
      // One after the other: the first picks the provider, the rest must take the same one.
      for (let i = 0; i < opts.sessions; i++) {
        const logger = opts.logger.child({ session: i });
        const providers = i === 0 ? opts.providers : [(members[0] as OnnxEngine).provider];
        members.push(await OnnxEngine.create({ ...opts, providers, logger, onFailed }));
      }
    } catch (err) {
      await Promise.all(members.map((m) => m.close()));
      throw err;
    }
    opts.logger.info({ model: opts.modelPath, sessions: opts.sessions, provider: members[0]?.provider }, 'inference sessions run batches side by side');
    return new OnnxEnginePool(members);
  }

  /** Null while every session can run; else the first one's reason for giving up. */
  get unavailableReason(): string | null {
    for (const m of this.members) if (m.unavailableReason !== null) return m.unavailableReason;
    return null;
  }

  acquireInput(): Uint8Array {
    if (this.inFlight >= this.maxInFlight) throw new Error(`OnnxEnginePool.acquireInput: ${this.inFlight} runs in flight, the most is ${this.maxInFlight}`);
    this.acquired = this.next;
    this.next = (this.next + 1) % this.maxInFlight;
    return this.ring[this.acquired] as Uint8Array;
  }

  run(n: number): Promise<Uint8Array> {
    if (this.acquired < 0) return Promise.reject(new Error('OnnxEnginePool.run: acquireInput() first'));
    if (!Number.isInteger(n) || n < 1 || n > this.maxBatch) {
      return Promise.reject(new RangeError(`OnnxEnginePool.run: expected an integer 1 <= n <= ${this.maxBatch}, got n=${n}`));
    }
    const slot = this.acquired;
    this.acquired = -1;
    const member = this.members[slot] as OnnxEngine;
    let input: Uint8Array;
    try {
      input = member.acquireInput(); // throws if that session still runs: the caller broke the ring's rule
    } catch (err) {
      return Promise.reject(err as Error);
    }
    input.set((this.ring[slot] as Uint8Array).subarray(0, n * this.frameBytes));
    this.inFlight++;
    return member.run(n).finally(() => this.inFlight--);
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => m.close()));
  }
}
