/**
 * What every publisher of results implements (WebSocket, MQTT, the daemon's own metrics and
 * status; Kafka). The frame router (frame-router.ts) calls them in order, on the
 * pipeline's thread, between two batches:
 *
 * - `onFrame`: one frame's results. Must not block, wait for a peer or grow without bound: a slow
 *   or absent peer costs its own buffer (bounded, oldest dropped and counted), never the pipeline.
 *   `frame.rgb` is valid during the call only. A throw is logged by the router and the frame goes
 *   on to the next sink.
 * - `onModelChanged`: the model was swapped; every frame from now on comes from it.
 * - `onStreamChanged`: a stream was added, changed or removed (`reason` of the stream list), or
 *   its analysis rebuilt for a new model (`reason: 'model'`, the stream list unchanged). It carries
 *   the occupancies the change ended (`exit` events) and the zones that are gone (retained or
 *   compacted state to clear).
 * - `close`: stop (flush what can be flushed within the sink's own deadline). Called once, by the
 *   daemon's lifecycle, after the last onFrame.
 */
import type { AnalysisChange } from '../analysis/stream-analyses.js';
import type { FrameAnalysis } from '../analysis/frame-analysis.js';
import type { MaskResult } from '../core/mask-result.js';
import type { StreamChange } from '../core/reasons.js';

export interface SinkFrame {
  readonly result: MaskResult;
  /** The frame's pixels (result.width × result.height × 3), valid during onFrame only; null when not kept. */
  readonly rgb: Uint8Array | null;
  /** Class areas and zones; null when the stream's analysis is off. */
  readonly analysis: FrameAnalysis | null;
}

export interface SinkModel {
  /** The model card's `name`. */
  readonly id: string;
  /** The model card object (JSON-serialisable). */
  readonly card: unknown;
  readonly classNames: readonly string[];
  readonly architecture: string;
  /** The execution provider it runs on ('tensorrt' | 'cuda' | 'cpu'). */
  readonly provider: string;
}

export interface SinkStreamChange extends AnalysisChange {
  readonly reason: StreamChange | 'model';
}

export interface Sink {
  /** For logs: which sink threw. */
  readonly name: string;
  onFrame(frame: SinkFrame): void;
  onModelChanged(model: SinkModel): void;
  onStreamChanged(change: SinkStreamChange): void;
  close(): Promise<void>;
}
