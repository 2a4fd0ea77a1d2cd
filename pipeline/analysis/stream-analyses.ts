/**
 * Every stream's analysis (class areas and zones), one StreamAnalyzer per stream, rebuilt when the
 * stream's zones change or the model is swapped (classes and mask size follow the model).
 *
 * A change is validated by the analyzer it then runs: prepare() builds it (and throws, naming the
 * stream, the zone and the field, before anything changes), set() puts that same analyzer in place.
 * A zone whose definition did not change keeps its tracker, so its occupancy carries over a
 * model swap or an unrelated change of its stream (a new URL); a zone that goes away ends its
 * occupancy with an `exit` event, reported with the change.
 */
import type { MaskResult } from '../core/mask-result.js';
import type { ZoneConfig } from '../core/zone-config.js';
import { StreamAnalyzer, type FrameAnalysis } from './frame-analysis.js';
import type { ZoneEvent, ZoneTracker } from './zone-tracker.js';

/** What analysis needs of the serving model. */
export interface AnalysisModel {
  readonly width: number;
  readonly height: number;
  readonly classNames: readonly string[];
}

/** What analysis needs of a stream's config. */
export interface AnalysisSpec {
  readonly id: string;
  readonly zones: readonly ZoneConfig[];
}

/** What one change did to a stream's analysis (the sinks' `onStreamChanged`). */
export interface AnalysisChange {
  readonly streamId: string;
  /** The stream's analyzer from now on; null when the stream is gone or its analysis is off. */
  readonly analyzer: StreamAnalyzer | null;
  /** `exit` events of the occupancies the change ended (a zone removed, renamed or redefined; the stream removed; analysis off). */
  readonly ended: readonly ZoneEvent[];
  /** Zones the stream had before and has no more: their retained state is to be cleared. */
  readonly removedZones: readonly string[];
}

interface Prepared {
  readonly key: string;
  readonly model: AnalysisModel;
  readonly analyzer: StreamAnalyzer;
}

const zoneKey = (z: ZoneConfig): string => JSON.stringify(z);

export class StreamAnalyses {
  /** Every live stream; null = analysis off for it (the stream runs on without areas or zones). */
  private readonly byId = new Map<string, StreamAnalyzer | null>();
  private readonly prepared = new Map<string, Prepared>();

  constructor(private model: AnalysisModel) {}

  /** The model analyses are built for from now on (callers then set() every stream again). */
  setModel(model: AnalysisModel): void {
    this.model = model;
    this.prepared.clear();
  }

  /**
   * Builds (and keeps for the next set() of the same zones) the analyzer `spec` would run, zones
   * with an unchanged definition going on with their trackers. Throws SegdError naming the
   * stream, the zone and the field when a zone names a class the model lacks or covers no pixel.
   */
  prepare(spec: AnalysisSpec): StreamAnalyzer {
    const current = this.byId.get(spec.id) ?? null;
    const trackers = new Map<string, ZoneTracker>();
    if (current !== null) current.zones.forEach((z, j) => trackers.set(zoneKey(z), current.trackers()[j] as ZoneTracker));
    const m = this.model;
    const analyzer = new StreamAnalyzer(spec.id, m.width, m.height, m.classNames, spec.zones, (z) => trackers.get(zoneKey(z)));
    this.prepared.set(spec.id, { key: JSON.stringify(spec.zones), model: m, analyzer });
    return analyzer;
  }

  /** Puts the stream's analysis in place (the prepared one when its zones match); throws like prepare(), changing nothing then. */
  set(spec: AnalysisSpec): AnalysisChange {
    const p = this.prepared.get(spec.id);
    const analyzer = p !== undefined && p.model === this.model && p.key === JSON.stringify(spec.zones) ? p.analyzer : this.prepare(spec);
    this.prepared.delete(spec.id);
    return this.replace(spec.id, analyzer);
  }

  /** The stream runs on without analysis (its zones could not be built for the serving model). */
  off(id: string): AnalysisChange {
    this.prepared.delete(id);
    return this.replace(id, null);
  }

  /** The stream is gone: its occupied zones exit. */
  remove(id: string): AnalysisChange {
    const change = this.off(id);
    this.byId.delete(id);
    return change;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): StreamAnalyzer | null {
    return this.byId.get(id) ?? null;
  }

  /** One frame's analysis; null when the stream's analysis is off or the stream unknown. */
  analyze(result: MaskResult): FrameAnalysis | null {
    return this.byId.get(result.streamId)?.analyze(result) ?? null;
  }

  private replace(id: string, next: StreamAnalyzer | null): AnalysisChange {
    const previous = this.byId.get(id) ?? null;
    this.byId.set(id, next);
    const kept = new Set(next?.trackers() ?? []);
    const names = new Set(next?.zones.map((z) => z.name) ?? []);
    const ended: ZoneEvent[] = [];
    const removedZones: string[] = [];
    if (previous !== null) {
      previous.trackers().forEach((t, j) => {
        if (!kept.has(t)) {
          const ev = t.end();
          if (ev !== null) ended.push(ev);
        }
        const name = previous.zones[j]?.name as string;
        if (!names.has(name)) removedZones.push(name);
      });
    }
    return { streamId: id, analyzer: next, ended, removedZones };
  }
}
