/**
 * Cross-stream dynamic batcher: frames from every stream → one engine.
 *
 * - Per-stream newest-wins queues (depth from the stream's config): a full queue evicts its
 *   oldest frame (`queue_full`). Nothing else buffers frames, so memory is bounded.
 * - Backpressure for streams that ask for it (`onQueueSpace`, see sources/pacing.ts): the
 *   stream is told when its queue becomes full and when a batch has taken a frame from it, so
 *   its producer can stop instead of having frames evicted. Told only on those two edges, with
 *   a callback bound at construction (no lookups per frame).
 * - One batch in flight for a local engine: it is the bottleneck, a second batch would only wait.
 *   A remote engine (Triton) may take `maxInFlight` batches at once, to hide the round trip; their
 *   results are still handed on in dispatch order, so each stream's masks stay in order.
 * - A batch goes when a full batch is waiting, or `maxDelayMs` after the oldest waiting frame;
 *   0 dispatches as soon as the engine is idle (Triton's max_queue_delay 0): under load the
 *   frames that arrive during a run form the next batch anyway.
 * - Fairness: at most `perStreamCap` frames of one stream per batch, and each batch starts
 *   with the stream after the last one served (round-robin), so no stream starves: with cap 1
 *   and S streams, a stream with a frame waiting is passed over by at most ⌊(S−1)/maxBatch⌋
 *   batches in a row (4 streams, batch 2: never two; test/integration/batcher-scheduling).
 * - The input tensor (maxBatch*H*W*3) is the engine's own buffer, allocated once: frames are
 *   copied into it in place and released at once, so a source's frame pool is never held for the
 *   duration of an inference. The engine hands that buffer to its worker thread for the run.
 * - Runtime control: streams are added and removed one at a time (the others' queues are not
 *   touched), and the engine is swapped between batches, never during one (`swapEngine`).
 */
import type { Logger } from 'pino';
import { SegdError } from '../core/errors.js';
import type { Frame } from '../core/frame.js';
import type { DropReason } from '../core/reasons.js';
import { BoundedQueue } from '../core/bounded-queue.js';
import type { BatchFrames, BatchTiming, MaskResult } from '../core/mask-result.js';
import type { StreamConfig } from '../core/stream-config.js';

/** What the batcher needs from an engine (OnnxEngine implements it). */
export interface BatchEngine {
  readonly inputHeight: number;
  readonly inputWidth: number;
  /** The largest n `run` accepts. */
  readonly maxBatch: number;
  /** The engine's input buffer (maxBatch*H*W*3, NHWC); valid until the next `run`. */
  acquireInput(): Uint8Array;
  /** Resolves to n*H*W class ids for the first n frames of the input buffer. */
  run(n: number): Promise<Uint8Array>;
  /**
   * Batches that may be in flight at once (absent = 1). Above 1, acquireInput() must hand out a ring
   * of that many buffers in turn, each left as filled until the ring comes round to it again: the
   * batcher keeps at most that many batches alive (in flight or not yet handed on) and hands them
   * on in order, so it reads each batch's pixels from the buffer it filled.
   */
  readonly maxInFlight?: number;
}

export interface BatcherStream extends Pick<StreamConfig, 'id' | 'queueDepth'> {
  /**
   * Backpressure: called with false when this stream's queue has just become full, and with
   * true once a batch has taken a frame from it (after the batch is in flight, so an offer made
   * inside the callback is safe). The producer should stop offering while full; a frame offered
   * anyway still evicts the oldest (`queue_full`), so the queue stays bounded. Absent: newest-wins.
   */
  readonly onQueueSpace?: ((hasRoom: boolean) => void) | undefined;
}

export interface BatcherOptions {
  readonly engine: BatchEngine;
  /** The streams that will offer frames; `queueDepth` sizes each one's queue. */
  readonly streams: readonly BatcherStream[];
  readonly maxBatch: number;
  readonly maxDelayMs: number;
  /** At most this many frames of one stream per batch. */
  readonly perStreamCap: number;
  readonly logger: Logger;
  /**
   * Every inferred batch, in order. Results are fresh objects the consumer may keep; `frames`
   * (the input pixels of each result) only for the duration of the call.
   */
  readonly onBatch: (results: MaskResult[], timing: BatchTiming, frames: BatchFrames) => void;
  /** Every frame that will not be inferred, with why (the frame is already released). */
  readonly onDrop: (streamId: string, reason: DropReason) => void;
}

interface Waiting {
  readonly frame: Frame;
  readonly queuedAtNs: bigint;
}

/** A swap asked for while a batch was in flight: applied when it settles. */
interface PendingSwap {
  readonly engine: BatchEngine;
  readonly onSwitch: (() => void) | undefined;
  readonly resolve: () => void;
}

/** Per-position facts of a batch in flight; one set per batch alive, reused. */
interface Slot {
  streamId: string;
  seq: number;
  ptsMs: number | null;
  captureTimeMs: number;
  decodedAtNs: bigint;
  queuedAtNs: bigint;
  dequeuedAtNs: bigint;
  width: number;
  height: number;
}

const NO_PIXELS = new Uint8Array(0);

/** BatchFrames over the engine's input buffer; one instance, re-pointed per batch. */
class InputFrames implements BatchFrames {
  buffer: Uint8Array = NO_PIXELS;
  count = 0;
  constructor(public frameBytes: number) {}
  rgb(index: number): Uint8Array {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) {
      throw new RangeError(`BatchFrames.rgb: index ${index}; expected 0…${this.count - 1} (and only during onBatch)`);
    }
    return this.buffer.subarray(index * this.frameBytes, (index + 1) * this.frameBytes);
  }
}

export class Batcher {
  private engine: BatchEngine;
  private readonly logger: Logger;
  private readonly onBatch: BatcherOptions['onBatch'];
  private readonly onDrop: BatcherOptions['onDrop'];
  private readonly maxBatch: number;
  private readonly maxDelayMs: number;
  private readonly cap: number;
  /** Frames that make a batch "full": maxBatch, unless the caps make that unreachable. */
  private fullAt: number;
  private frameBytes: number;
  private maskBytes: number;
  /**
   * Frame sizes of engines swapped out (a few: one per swap that changed the input size): frames of
   * such a size still on their way from the sources are dropped as `reconfigured`, not a wiring bug.
   */
  private readonly staleFrameBytes = new Set<number>();
  private pendingSwap: PendingSwap | null = null;
  // Per stream, in the same order (round-robin order); changed only by addStream/removeStream.
  private readonly ids: string[];
  private readonly index = new Map<string, number>();
  private readonly queues: BoundedQueue<Waiting>[];
  /** Slot sets not used by a batch alive (one per batch in flight at once, made on first need). */
  private readonly freeSlots: Slot[][] = [];
  /** Per stream: its onQueueSpace callback, or undefined for newest-wins. */
  private readonly space: (((hasRoom: boolean) => void) | undefined)[];
  /** Per stream: 1 = told "full", 2 = a frame was taken since, "room" not told yet, 0 = neither. */
  private readonly spaceState: number[];
  /** Streams with spaceState 2 (so dispatch scans only when there is something to tell). */
  private roomPending = 0;
  private readonly frames: InputFrames;

  private rr = 0;
  private waiting = 0;
  private waitingSinceNs: bigint | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Batches dispatched and not yet handed on (at most the engine's maxInFlight). */
  private inFlight = 0;
  /** Settles once the newest batch dispatched has been handed on (the next one waits for it). */
  private handedOn: Promise<void> = Promise.resolve();
  private draining: Promise<void> | null = null;

  constructor(opts: BatcherOptions) {
    const { maxBatch, maxDelayMs, perStreamCap, streams } = opts;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`Batcher: maxBatch must be an integer >= 1, got ${maxBatch}`);
    if (!Number.isInteger(perStreamCap) || perStreamCap < 1) throw new RangeError(`Batcher: perStreamCap must be an integer >= 1, got ${perStreamCap}`);
    if (!(maxDelayMs >= 0)) throw new RangeError(`Batcher: maxDelayMs must be >= 0, got ${maxDelayMs}`);
    if (streams.length === 0) throw new RangeError('Batcher: at least one stream is required');
    const ids = streams.map((s) => s.id);
    if (new Set(ids).size !== ids.length) throw new RangeError(`Batcher: duplicate stream ids in [${ids.join(', ')}]`);
    if (maxBatch > opts.engine.maxBatch) {
      throw new RangeError(`Batcher: maxBatch ${maxBatch} exceeds the engine's maxBatch ${opts.engine.maxBatch}`);
    }

    this.engine = opts.engine;
    this.logger = opts.logger;
    this.onBatch = opts.onBatch;
    this.onDrop = opts.onDrop;
    this.maxBatch = maxBatch;
    this.maxDelayMs = maxDelayMs;
    this.cap = perStreamCap;
    this.fullAt = Math.min(maxBatch, perStreamCap * streams.length);
    this.maskBytes = opts.engine.inputHeight * opts.engine.inputWidth;
    this.frameBytes = this.maskBytes * 3;
    this.frames = new InputFrames(this.frameBytes);
    this.ids = ids;
    this.reindex();
    this.queues = streams.map((s) => new BoundedQueue<Waiting>(s.queueDepth));
    this.space = streams.map((s) => s.onQueueSpace);
    this.spaceState = streams.map(() => 0);
  }

  private newSlots(): Slot[] {
    return Array.from({ length: this.maxBatch }, () => ({
      streamId: '',
      seq: 0,
      ptsMs: null,
      captureTimeMs: 0,
      decodedAtNs: 0n,
      queuedAtNs: 0n,
      dequeuedAtNs: 0n,
      width: 0,
      height: 0,
    }));
  }

  /** Batches the current engine takes at once. */
  private get inFlightLimit(): number {
    return this.engine.maxInFlight ?? 1;
  }

  /** Frames waiting in all queues (not counting the batch in flight). */
  get queued(): number {
    return this.waiting;
  }

  /** The ids of the streams, in round-robin order. */
  get streamIds(): readonly string[] {
    return this.ids;
  }

  /** The engine batches run on (the new one from the moment a swap took effect). */
  get currentEngine(): BatchEngine {
    return this.engine;
  }

  /**
   * A stream that will offer frames from now on; the others are not touched. Throws RangeError
   * for an id already present (the caller serialises changes per stream).
   */
  addStream(stream: BatcherStream): void {
    if (this.index.has(stream.id)) throw new RangeError(`Batcher.addStream: stream '${stream.id}' is already present`);
    this.ids.push(stream.id);
    this.queues.push(new BoundedQueue<Waiting>(stream.queueDepth));
    this.space.push(stream.onQueueSpace);
    this.spaceState.push(0);
    this.reindex();
  }

  /**
   * Forgets a stream: its queued frames are released (`reconfigured`); a frame of it in the batch
   * in flight is still delivered. Offering a frame of it afterwards is a wiring bug (throws).
   * False when it was not present.
   */
  removeStream(id: string): boolean {
    const i = this.index.get(id);
    if (i === undefined) return false;
    const q = this.queues[i] as BoundedQueue<Waiting>;
    this.waiting -= q.length;
    q.clear((w) => {
      w.frame.release();
      this.onDrop(id, 'reconfigured');
    });
    if (this.spaceState[i] === 2) this.roomPending--;
    this.ids.splice(i, 1);
    this.queues.splice(i, 1);
    this.space.splice(i, 1);
    this.spaceState.splice(i, 1);
    if (this.rr > i) this.rr--;
    if (this.rr >= this.ids.length) this.rr = 0;
    this.reindex();
    this.waitingSinceNs = this.oldestWaiting();
    return true;
  }

  /**
   * Runs every batch from now on on `engine`: at once when no batch is in flight, else as soon as
   * the batch in flight has been delivered (never mid-batch). `onSwitch` is called synchronously
   * at the switch, before the first batch of the new engine is formed (the publisher announces
   * the new model there). When the input size changes, queued frames of the old size are
   * released (`reconfigured`), and so are frames of that size offered later. Resolves once
   * switched. One swap at a time.
   */
  swapEngine(engine: BatchEngine, onSwitch?: () => void): Promise<void> {
    if (this.draining) return Promise.reject(new Error('Batcher.swapEngine: the batcher is draining'));
    if (this.pendingSwap) return Promise.reject(new Error('Batcher.swapEngine: a swap is already pending'));
    if (engine.maxBatch < this.maxBatch) {
      return Promise.reject(new RangeError(`Batcher.swapEngine: the engine's maxBatch ${engine.maxBatch} is below the batcher's ${this.maxBatch}`));
    }
    return new Promise<void>((resolve) => {
      this.pendingSwap = { engine, onSwitch, resolve };
      if (this.inFlight === 0) this.applySwap();
    });
  }

  /** Frames waiting in one stream's queue. */
  queuedFor(streamId: string): number {
    const i = this.index.get(streamId);
    return i === undefined ? 0 : (this.queues[i]?.length ?? 0);
  }

  /**
   * Takes ownership of `frame`: it is either batched or dropped, and released either way.
   * A frame of an unknown stream or of the wrong size is a wiring bug: released, then thrown.
   */
  offer(frame: Frame): void {
    const id = frame.streamId;
    if (this.draining) {
      frame.release();
      this.onDrop(id, 'shutdown');
      return;
    }
    const i = this.index.get(id);
    const queue = i === undefined ? undefined : this.queues[i];
    if (queue !== undefined && frame.data.length !== this.frameBytes && this.staleFrameBytes.has(frame.data.length)) {
      frame.release();
      this.onDrop(id, 'reconfigured');
      return;
    }
    if (queue === undefined || frame.data.length !== this.frameBytes) {
      frame.release();
      throw new Error(
        queue === undefined
          ? `Batcher.offer: unknown stream '${id}' (known: ${this.ids.join(', ')})`
          : `Batcher.offer: frame of stream '${id}' has ${frame.data.length} bytes, expected ${this.frameBytes} (${this.engine.inputWidth}x${this.engine.inputHeight} RGB)`,
      );
    }
    const now = process.hrtime.bigint();
    const evicted = queue.push({ frame, queuedAtNs: now });
    if (evicted) {
      evicted.frame.release();
      this.onDrop(id, 'queue_full');
    } else {
      this.waiting++;
    }
    this.waitingSinceNs ??= now;
    // Before schedule(): a dispatch there may take this frame and owe the stream a "room".
    if (queue.length === queue.capacity) this.tellFull(i as number);
    this.schedule();
  }

  /**
   * Shutdown: refuse new frames (dropped as `shutdown`), release queued frames (`shutdown`),
   * let the batch in flight finish and deliver. Idempotent.
   */
  drain(): Promise<void> {
    this.draining ??= (async () => {
      this.clearTimer();
      this.queues.forEach((q, i) => {
        const id = this.ids[i] ?? '';
        q.clear((w) => {
          w.frame.release();
          this.onDrop(id, 'shutdown');
        });
      });
      this.waiting = 0;
      this.waitingSinceNs = null;
      await this.handedOn;
      this.applySwap(); // a swap still pending resolves (its engine is the caller's to close)
    })();
    return this.draining;
  }

  private schedule(): void {
    // Completion re-schedules; a swap waiting lets the batches in flight finish first.
    if (this.inFlight >= this.inFlightLimit || (this.inFlight > 0 && this.pendingSwap !== null) || this.waiting === 0 || this.draining) return;
    if (this.readyCount() >= this.fullAt) return this.dispatch('full');
    const waitedMs = Number(process.hrtime.bigint() - (this.waitingSinceNs ?? 0n)) / 1e6;
    if (waitedMs >= this.maxDelayMs) return this.dispatch('deadline');
    this.timer ??= setTimeout(this.onDeadline, Math.ceil(this.maxDelayMs - waitedMs));
  }

  private readonly onDeadline = (): void => {
    this.timer = null;
    if (this.inFlight < this.inFlightLimit && this.pendingSwap === null && this.waiting > 0 && !this.draining) this.dispatch('deadline');
  };

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Frames a batch could take now, honouring the per-stream cap (stops counting at fullAt). */
  private readyCount(): number {
    let n = 0;
    for (const q of this.queues) {
      n += Math.min(this.cap, q.length);
      if (n >= this.fullAt) break;
    }
    return n;
  }

  private dispatch(trigger: BatchTiming['trigger']): void {
    this.clearTimer();
    const slots = this.freeSlots.pop() ?? this.newSlots();
    const input = this.engine.acquireInput();
    const n = this.take(input, slots);
    if (n === 0) {
      this.freeSlots.push(slots);
      return;
    }
    this.inFlight++;
    // Handed on after the batch dispatched before it: each stream's masks stay in order.
    this.handedOn = this.runBatch(this.engine, n, trigger, slots, input, this.handedOn).finally(() => {
      this.inFlight--;
      this.freeSlots.push(slots);
      this.applySwap();
      this.schedule();
    });
    // Now, not inside take(): a producer offering from its callback finds the batch in flight.
    if (this.roomPending > 0) this.tellRoom();
  }

  private tellFull(i: number): void {
    const cb = this.space[i];
    if (cb === undefined || this.spaceState[i] === 1) return;
    const untold = this.spaceState[i] === 2; // full again before "room" was told: no news for it
    this.spaceState[i] = 1;
    if (untold) this.roomPending--;
    else cb(false);
  }

  private tellRoom(): void {
    this.roomPending = 0;
    for (let i = 0; i < this.space.length; i++) {
      if (this.spaceState[i] !== 2) continue;
      this.spaceState[i] = 0;
      (this.space[i] as (hasRoom: boolean) => void)(true);
    }
  }

  /** Moves up to maxBatch frames into `input` (round-robin, capped), releasing each. */
  private take(input: Uint8Array, slots: readonly Slot[]): number {
    const streams = this.queues.length;
    const now = process.hrtime.bigint();
    let n = 0;
    let last = -1;
    for (let k = 0; k < streams && n < this.maxBatch; k++) {
      const i = (this.rr + k) % streams;
      const q = this.queues[i] as BoundedQueue<Waiting>;
      for (let c = 0; c < this.cap && n < this.maxBatch; c++) {
        const w = q.shift();
        if (!w) break;
        if (this.spaceState[i] === 1) {
          this.spaceState[i] = 2;
          this.roomPending++;
        }
        const f = w.frame;
        input.set(f.data, n * this.frameBytes);
        const s = slots[n] as Slot;
        s.streamId = f.streamId;
        s.seq = f.seq;
        s.ptsMs = f.ptsMs;
        s.captureTimeMs = f.captureTimeMs;
        s.decodedAtNs = f.decodedAtNs;
        s.queuedAtNs = w.queuedAtNs;
        s.dequeuedAtNs = now;
        s.width = f.width;
        s.height = f.height;
        f.release();
        n++;
        last = i;
      }
    }
    if (last >= 0) this.rr = (last + 1) % streams;
    this.waiting -= n;
    // Frames left behind keep their own waiting time for the next deadline.
    this.waitingSinceNs = this.oldestWaiting();
    return n;
  }

  private oldestWaiting(): bigint | null {
    let oldest: bigint | null = null;
    if (this.waiting > 0) {
      for (const q of this.queues) {
        const head = q.peek();
        if (head && (oldest === null || head.queuedAtNs < oldest)) oldest = head.queuedAtNs;
      }
    }
    return oldest;
  }

  private reindex(): void {
    this.index.clear();
    this.ids.forEach((id, i) => this.index.set(id, i));
    this.fullAt = Math.min(this.maxBatch, this.cap * this.ids.length);
  }

  /** Between batches only (no run in flight): the pending engine takes over. */
  private applySwap(): void {
    const swap = this.pendingSwap;
    if (swap === null || this.inFlight > 0) return;
    this.pendingSwap = null;
    const frameBytes = swap.engine.inputHeight * swap.engine.inputWidth * 3;
    if (frameBytes !== this.frameBytes) {
      this.staleFrameBytes.add(this.frameBytes);
      // Queued frames have the old size: release them, and tell paused producers there is room.
      this.queues.forEach((q, i) => {
        const id = this.ids[i] ?? '';
        q.clear((w) => {
          w.frame.release();
          this.onDrop(id, 'reconfigured');
        });
        if (this.spaceState[i] === 1) {
          this.spaceState[i] = 2;
          this.roomPending++;
        }
      });
      this.waiting = 0;
      this.waitingSinceNs = null;
      this.clearTimer();
    }
    this.engine = swap.engine;
    this.maskBytes = swap.engine.inputHeight * swap.engine.inputWidth;
    this.frameBytes = frameBytes;
    this.frames.frameBytes = frameBytes;
    try {
      swap.onSwitch?.();
    } catch (err) {
      this.logger.error({ err }, 'swapEngine onSwitch callback threw');
    }
    if (this.roomPending > 0) this.tellRoom();
    swap.resolve();
  }

  /**
   * Never rejects: failures are counted per frame and logged. Hands the batch on once `before` (the
   * batch dispatched before it) has been handed on.
   */
  private async runBatch(
    engine: BatchEngine,
    n: number,
    trigger: BatchTiming['trigger'],
    slots: readonly Slot[],
    input: Uint8Array,
    before: Promise<void>,
  ): Promise<void> {
    const inferStartNs = process.hrtime.bigint();
    let masks: Uint8Array;
    try {
      masks = await engine.run(n); // called before the first await: the run starts within dispatch()
    } catch (err) {
      await before;
      // An unreachable inference server (triton) has its own reason; the engine logs the outage once, not per batch.
      const away = err instanceof SegdError && err.code === 'SEGD_INFERENCE_UNAVAILABLE';
      const streams: string[] = [];
      for (let i = 0; i < n; i++) {
        const id = (slots[i] as Slot).streamId;
        streams.push(id);
        this.onDrop(id, away ? 'inference_unavailable' : 'inference_error');
      }
      if (away) this.logger.debug({ err, size: n, streams }, 'inference unavailable; batch dropped');
      else this.logger.error({ err, size: n, streams }, 'inference failed; batch dropped');
      return;
    }
    const inferEndNs = process.hrtime.bigint();
    await before;
    const results: MaskResult[] = new Array<MaskResult>(n);
    for (let i = 0; i < n; i++) {
      const s = slots[i] as Slot;
      results[i] = {
        streamId: s.streamId,
        seq: s.seq,
        ptsMs: s.ptsMs,
        captureTimeMs: s.captureTimeMs,
        decodedAtNs: s.decodedAtNs,
        queuedAtNs: s.queuedAtNs,
        dequeuedAtNs: s.dequeuedAtNs,
        inferStartNs,
        inferEndNs,
        width: s.width,
        height: s.height,
        mask: masks.subarray(i * this.maskBytes, (i + 1) * this.maskBytes),
      };
    }
    // One at a time: the run is over, so the engine's input buffer (back from its worker) holds exactly
    // these frames. Several: the ring has not come round to this batch's buffer (its batches alive ≤ the ring).
    this.frames.buffer = (engine.maxInFlight ?? 1) > 1 ? input : engine.acquireInput();
    this.frames.count = n;
    try {
      this.onBatch(results, { size: n, trigger, inferStartNs, inferEndNs }, this.frames);
    } catch (err) {
      // A consumer bug must not stop batching for every stream.
      this.logger.error({ err, size: n }, 'onBatch callback threw');
    } finally {
      this.frames.buffer = NO_PIXELS;
      this.frames.count = 0;
    }
  }
}
