/**
 * The daemon's own sink (pipeline/publish/sink.ts), first in the router's list: per frame the
 * stage latencies, the stream's inferred-frame count and its class-area and zone gauges; the
 * gauges' label sets follow the stream's zones and the model's classes, and go with the stream.
 */
import type { FrameAnalysis } from '../pipeline/analysis/frame-analysis.js';
import type { Sink, SinkFrame, SinkModel, SinkStreamChange } from '../pipeline/publish/sink.js';
import type { SegdMetrics } from './metrics.js';
import type { StreamStatusBoard } from './stream-status.js';

export class StatusSink implements Sink {
  readonly name = 'metrics';
  private readonly observers = new Map<string, (a: FrameAnalysis) => void>();

  constructor(
    private readonly board: StreamStatusBoard,
    private readonly metrics: SegdMetrics,
  ) {}

  onFrame(f: SinkFrame): void {
    const status = this.board.find(f.result.streamId);
    if (status === undefined) return;
    this.metrics.observeResultStages(f.result);
    status.metrics.frameInferred();
    if (f.analysis !== null) this.observers.get(f.result.streamId)?.(f.analysis);
  }

  onModelChanged(m: SinkModel): void {
    this.metrics.setModelInfo({ model: m.id, architecture: m.architecture, provider: m.provider });
  }

  onStreamChanged(c: SinkStreamChange): void {
    if (c.analyzer === null) {
      this.observers.delete(c.streamId);
      this.metrics.removeAnalysis(c.streamId);
    } else {
      this.observers.set(c.streamId, this.metrics.analysisObserver(c.streamId, c.analyzer.classNames, c.analyzer.zones));
    }
  }

  async close(): Promise<void> {}
}
