/**
 * The engine facade the daemon composes: what the batcher, the model swap, the API and /readyz
 * need from whatever runs inference. OnnxEngine (ONNX Runtime in a worker thread) and TritonEngine
 * (a Triton server over KServe v2 HTTP or gRPC) implement it; the daemon only chooses which to create.
 */
import type { EngineProviderName } from '../core/reasons.js';
import type { ModelCard } from './model-card.js';

export interface SegEngine {
  /** What is served: the .onnx file, or the Triton model's address (http://host:port/models/NAME). */
  readonly modelPath: string;
  /** Where the card came from: a file, or the Triton model's config parameter. */
  readonly cardPath: string;
  readonly card: ModelCard;
  readonly provider: EngineProviderName;
  readonly inputHeight: number;
  readonly inputWidth: number;
  readonly maxBatch: number;
  /**
   * Null while the engine can run batches; else why not (the inference server is unreachable, its
   * model not ready). /readyz reports it; frames dropped meanwhile count as `inference_unavailable`.
   */
  readonly unavailableReason: string | null;
  /**
   * Runs that may be in flight at once; absent = 1. Above 1, acquireInput() hands out a ring of
   * that many buffers in turn, each left as filled until the ring comes round to it again.
   */
  readonly maxInFlight?: number;
  /** The batch input buffer (maxBatch*H*W*3, NHWC) the next run() reads; with maxInFlight 1, only while no run is in flight. */
  acquireInput(): Uint8Array;
  /** n*H*W class ids for the first n frames of the buffer last acquired (fresh memory per run). */
  run(n: number): Promise<Uint8Array>;
  close(): Promise<void>;
}
