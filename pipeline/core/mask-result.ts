/**
 * What the batcher hands to the publishers: one frame's class mask plus the timestamps that
 * the stage histograms need. All `*Ns` values are process.hrtime.bigint() readings.
 */
export interface MaskResult {
  readonly streamId: string;
  readonly seq: number;
  readonly ptsMs: number | null;
  /** Wall-clock capture time (Unix epoch ms), carried from the Frame. */
  readonly captureTimeMs: number;
  /** The frame's last byte arrived from ffmpeg. */
  readonly decodedAtNs: bigint;
  /** Entered the stream's newest-wins queue. */
  readonly queuedAtNs: bigint;
  /** Taken from the queue into a batch (copied into the batch tensor). */
  readonly dequeuedAtNs: bigint;
  /** The batch holding it was handed to the engine. */
  readonly inferStartNs: bigint;
  /** The engine returned that batch. */
  readonly inferEndNs: bigint;
  readonly width: number;
  readonly height: number;
  /**
   * width*height class ids, a view into the batch's output tensor. Each batch's output is fresh
   * memory, so the view stays valid for as long as the consumer holds it.
   */
  readonly mask: Uint8Array;
}

/** Per-batch facts for the batch-size and inference histograms. */
export interface BatchTiming {
  /** Frames in the batch (1 … maxBatch). */
  readonly size: number;
  /** What formed it: enough frames were waiting, or the oldest waited maxDelayMs. */
  readonly trigger: 'full' | 'deadline';
  readonly inferStartNs: bigint;
  readonly inferEndNs: bigint;
}

/**
 * The RGB pixels of a batch's frames, exactly those the masks were computed from (the engine's
 * batch input buffer, back from the inference run). Valid only during the `onBatch` callback: the
 * next batch is copied into the same memory after it returns. Consumers copy what they keep.
 */
export interface BatchFrames {
  /** Frame `index` of the batch (results[index]): width*height*3 bytes, RGB24, row-major. */
  rgb(index: number): Uint8Array;
}
