/**
 * The unit that flows from a source through the queue and batcher to the engine.
 * One decoded RGB frame, already scaled by ffmpeg to the model's input size.
 */
export interface Frame {
  /** Stream id from the config (never the URL: URLs can carry credentials). */
  readonly streamId: string;
  /** Per-stream sequence number, +1 for every frame cut from ffmpeg's stdout (restarts included). */
  readonly seq: number;
  /** Presentation timestamp in milliseconds as the stream reports it; null when unknown. */
  readonly ptsMs: number | null;
  /** Wall-clock capture time (Unix epoch ms): when the last byte of the frame arrived from ffmpeg. */
  readonly captureTimeMs: number;
  /** Monotonic time (process.hrtime.bigint()) of the same instant, for stage latencies. */
  readonly decodedAtNs: bigint;
  readonly width: number;
  readonly height: number;
  /**
   * RGB24 pixels, width*height*3 bytes. Owned by the source's fixed pool of frame buffers:
   * the consumer copies what it needs and then calls release() exactly once. A frame that
   * is dropped is released too. Never hold `data` after release().
   */
  readonly data: Uint8Array;
  release(): void;
}
