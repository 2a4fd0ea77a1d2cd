/**
 * Hands each inferred frame to every sink, and every model or stream change too. Per frame: the
 * stream's analysis (class areas and zones, computed once) and one onFrame per sink, in the order
 * given. A stream removed while its frame was being inferred is skipped. One sink's throw is
 * logged and never reaches the batcher or the other sinks.
 */
import type { Logger } from 'pino';
import type { AnalysisChange, AnalysisModel, AnalysisSpec, StreamAnalyses } from '../analysis/stream-analyses.js';
import type { BatchFrames, BatchTiming, MaskResult } from '../core/mask-result.js';
import type { StreamChange } from '../core/reasons.js';
import type { Sink, SinkModel, SinkStreamChange } from './sink.js';

export interface FrameRouterOptions {
  readonly analyses: StreamAnalyses;
  readonly sinks: readonly Sink[];
  readonly logger: Logger;
  /** Per batch, before its frames (batch-level metrics). */
  readonly onBatch?: (timing: BatchTiming) => void;
}

export class FrameRouter {
  private readonly sinks: readonly Sink[];
  private readonly analyses: StreamAnalyses;
  private readonly log: Logger;
  private readonly onBatchTiming: ((timing: BatchTiming) => void) | null;

  constructor(opts: FrameRouterOptions) {
    this.sinks = opts.sinks;
    this.analyses = opts.analyses;
    this.log = opts.logger;
    this.onBatchTiming = opts.onBatch ?? null;
  }

  /** The batcher's onBatch. */
  route(results: readonly MaskResult[], timing: BatchTiming, frames: BatchFrames): void {
    this.onBatchTiming?.(timing);
    for (let i = 0; i < results.length; i++) {
      const result = results[i] as MaskResult;
      if (!this.analyses.has(result.streamId)) continue; // removed while its frame was being inferred
      const frame = { result, rgb: frames.rgb(i), analysis: this.analyses.analyze(result) };
      for (const sink of this.sinks) {
        try {
          sink.onFrame(frame);
        } catch (err) {
          this.log.error({ err, sink: sink.name, stream: result.streamId, seq: result.seq }, `${sink.name} publish failed; segmentation continues`);
        }
      }
    }
  }

  /**
   * A stream added or changed (`spec` its new config) or removed (`spec` null). A stream whose
   * zones cannot be built for the serving model runs on without analysis, logged (the control API
   * refuses such a change beforehand through StreamAnalyses.prepare; this covers what slips by).
   */
  streamChanged(reason: StreamChange, id: string, spec: AnalysisSpec | null): void {
    this.tell({ reason, ...(spec === null || reason === 'removed' ? this.analyses.remove(id) : this.setOrOff(spec)) });
  }

  /** The model swapped, between two batches: the sinks learn it before its first frame, then every stream's analysis follows it. */
  modelChanged(model: SinkModel & AnalysisModel, specs: readonly AnalysisSpec[]): void {
    for (const sink of this.sinks) this.guard(sink, 'model change', () => sink.onModelChanged(model));
    this.analyses.setModel(model);
    for (const spec of specs) this.tell({ reason: 'model', ...this.setOrOff(spec) });
  }

  private setOrOff(spec: AnalysisSpec): AnalysisChange {
    try {
      return this.analyses.set(spec);
    } catch (err) {
      // The error names the stream, the zone and the field.
      this.log.error({ err, stream: spec.id }, 'class areas and zones off for this stream');
      return this.analyses.off(spec.id);
    }
  }

  private tell(change: SinkStreamChange): void {
    for (const sink of this.sinks) this.guard(sink, 'stream change', () => sink.onStreamChanged(change));
  }

  private guard(sink: Sink, what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err, sink: sink.name }, `${sink.name}: ${what} failed`);
    }
  }
}
