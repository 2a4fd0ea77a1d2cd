/**
 * Per stream, what every publisher needs to know about a mask beyond its pixels, computed once per
 * frame: class areas of the frame and of each zone (analysis/class-areas.ts, one pass over the mask)
 * and the zones' states and events (analysis/zone-tracker.ts). Decided at construction: the zone
 * geometry, the classes of interest as ids.
 */
import { ClassAreaCounter, type ClassAreas } from './class-areas.js';
import { SegdError } from '../core/errors.js';
import type { MaskResult } from '../core/mask-result.js';
import type { ZoneConfig } from '../core/zone-config.js';
import { ZoneTracker, type ZoneEvent, type ZoneReading, type ZoneState } from './zone-tracker.js';

export interface FrameAnalysis {
  readonly result: MaskResult;
  readonly areas: ClassAreas;
  /** Every zone's reading in this frame, in config order. */
  readonly readings: readonly ZoneReading[];
  /** Every zone's state after this frame, in config order. */
  readonly occupied: readonly boolean[];
  /** Events this frame caused (usually none). */
  readonly events: readonly ZoneEvent[];
}

interface ZonePlan {
  readonly tracker: ZoneTracker;
  /** Classes of interest: ids and names, in config order. */
  readonly ids: readonly number[];
  readonly names: readonly string[];
}

const NO_EVENTS: readonly ZoneEvent[] = [];

export class StreamAnalyzer {
  readonly streamId: string;
  readonly classNames: readonly string[];
  readonly zones: readonly ZoneConfig[];
  private readonly counter: ClassAreaCounter;
  private readonly plans: readonly ZonePlan[];

  /**
   * Throws SEGD_ZONE_INVALID naming the stream, the zone and the field when a zone names a class
   * the model does not have or covers no pixel of its masks (both known only once the model is).
   * `trackerOf`: an existing tracker to go on with for a zone (same definition, e.g. across a
   * model swap), so its occupancy carries over instead of starting clear.
   */
  constructor(
    streamId: string,
    width: number,
    height: number,
    classNames: readonly string[],
    zones: readonly ZoneConfig[] = [],
    trackerOf: (zone: ZoneConfig) => ZoneTracker | undefined = () => undefined,
  ) {
    this.streamId = streamId;
    this.classNames = classNames;
    this.zones = zones;
    const problems: string[] = [];
    const idOf = new Map(classNames.map((n, i) => [n, i] as const));
    this.plans = zones.map((z, j) => {
      const ids: number[] = [];
      z.classes.forEach((name, k) => {
        const id = idOf.get(name);
        if (id === undefined) {
          problems.push(
            `streams "${streamId}" zone "${z.name}" (zones[${j}]) classes[${k}]: unknown class ${JSON.stringify(name)}; expected one of the model's classes: ${classNames.join(', ')}`,
          );
        } else ids.push(id);
      });
      return { tracker: trackerOf(z) ?? new ZoneTracker(streamId, z), ids, names: z.classes };
    });
    try {
      this.counter = new ClassAreaCounter(width, height, classNames.length, zones.map((z) => z.polygon as unknown as readonly [number, number][]));
    } catch (err) {
      const m = /^zone (\d+): (.*)$/.exec(err instanceof Error ? err.message : String(err));
      if (m === null) throw err;
      const j = Number(m[1]);
      problems.push(`streams "${streamId}" zone "${zones[j]?.name ?? j}" (zones[${j}]) polygon: ${m[2]}; expected a larger polygon`);
      this.counter = new ClassAreaCounter(width, height, Math.max(1, classNames.length));
    }
    if (problems.length > 0) throw new SegdError('SEGD_ZONE_INVALID', `zones of stream ${streamId}:\n  ${problems.join('\n  ')}`, problems);
  }

  /** Each zone's tracker, in config order (handed on to the analyzer that replaces this one). */
  trackers(): ZoneTracker[] {
    return this.plans.map((p) => p.tracker);
  }

  /** The zones' current states (for retained topics and new subscribers). */
  states(): ZoneState[] {
    return this.plans.map((p) => p.tracker.state);
  }

  analyze(result: MaskResult): FrameAnalysis {
    const areas = this.counter.count(result.mask);
    if (this.plans.length === 0) return { result, areas, readings: [], occupied: [], events: NO_EVENTS };
    const readings: ZoneReading[] = [];
    const occupied: boolean[] = [];
    let events: ZoneEvent[] | null = null;
    for (let j = 0; j < this.plans.length; j++) {
      const plan = this.plans[j] as ZonePlan;
      const zone = areas.zones[j];
      const pixels = zone?.pixels ?? 0;
      const classes: Record<string, number> = {};
      let ratio = 0;
      for (let k = 0; k < plan.ids.length; k++) {
        const f = pixels > 0 ? (zone?.counts[plan.ids[k] as number] ?? 0) / pixels : 0;
        classes[plan.names[k] as string] = f;
        ratio += f;
      }
      const reading: ZoneReading = { ratio, classes, seq: result.seq, timeMs: result.captureTimeMs };
      readings.push(reading);
      const ev = plan.tracker.observe(reading);
      if (ev !== null) (events ??= []).push(ev);
      occupied.push(plan.tracker.occupiedNow);
    }
    return { result, areas, readings, occupied, events: events ?? NO_EVENTS };
  }
}
