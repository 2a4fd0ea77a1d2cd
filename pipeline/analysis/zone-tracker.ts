/**
 * One zone's occupancy over time: the per-frame ratio (pixels of the zone's classes / zone pixels)
 * turned into explicit states with hysteresis and a minimum duration, and into Frigate-style
 * events (enter / update / exit, with the state before and after). Time is the frames' capture
 * time, so the same frames always give the same events.
 */
import type { ZoneConfig } from '../core/zone-config.js';

export type ZoneStateName = 'clear' | 'occupied';
export const ZONE_EVENT_TYPES = ['enter', 'update', 'exit'] as const;
export type ZoneEventType = (typeof ZONE_EVENT_TYPES)[number];

/** One zone in one frame. */
export interface ZoneReading {
  readonly ratio: number;
  /** Fraction of the zone's pixels per class of interest (by name). */
  readonly classes: Readonly<Record<string, number>>;
  readonly seq: number;
  readonly timeMs: number;
}

/** The zone's reported state (what the retained state topic carries). */
export interface ZoneState {
  readonly zone: string;
  readonly state: ZoneStateName;
  /** Capture time the state began (ms); null before the first change. */
  readonly sinceMs: number | null;
  /** The event of the current occupancy; null while clear. */
  readonly eventId: string | null;
  readonly reading: ZoneReading | null;
}

export interface ZoneEvent {
  readonly type: ZoneEventType;
  readonly id: string;
  readonly stream: string;
  readonly zone: string;
  readonly startMs: number;
  /** Set on exit. */
  readonly endMs: number | null;
  readonly before: ZoneReading;
  readonly after: ZoneReading;
}

export class ZoneTracker {
  private occupied = false;
  /** Capture time since which the ratio has said "change"; null while it agrees with the state. */
  private pendingSinceMs: number | null = null;
  private sinceMs: number | null = null;
  private eventId: string | null = null;
  private startMs = 0;
  /** Reading of the last event (the next event's `before`). */
  private lastReported: ZoneReading | null = null;
  private last: ZoneReading | null = null;
  private readonly exitBelow: number;

  constructor(
    readonly streamId: string,
    readonly zone: ZoneConfig,
  ) {
    this.exitBelow = zone.threshold - zone.hysteresis;
  }

  get occupiedNow(): boolean {
    return this.occupied;
  }

  get state(): ZoneState {
    return {
      zone: this.zone.name,
      state: this.occupied ? 'occupied' : 'clear',
      sinceMs: this.sinceMs,
      eventId: this.eventId,
      reading: this.last,
    };
  }

  /** Feeds one frame's reading; returns the event it caused, if any. */
  observe(r: ZoneReading): ZoneEvent | null {
    const prev = this.last ?? r;
    this.last = r;
    const wants = this.occupied ? r.ratio >= this.exitBelow : r.ratio >= this.zone.threshold;
    if (wants === this.occupied) {
      this.pendingSinceMs = null;
      return this.occupied ? this.maybeUpdate(r) : null;
    }
    this.pendingSinceMs ??= r.timeMs;
    if (r.timeMs - this.pendingSinceMs < this.zone.minDurationMs) return this.occupied ? this.maybeUpdate(r) : null;
    this.pendingSinceMs = null;
    this.occupied = wants;
    this.sinceMs = r.timeMs;
    const before = this.lastReported ?? prev;
    this.lastReported = r;
    if (wants) {
      this.startMs = r.timeMs;
      this.eventId = `${this.streamId}-${this.zone.name}-${r.timeMs.toFixed(0)}-${r.seq}`;
      return this.event('enter', before, r, null);
    }
    const ev = this.event('exit', before, r, r.timeMs);
    this.eventId = null;
    return ev;
  }

  /**
   * The zone goes away (removed, renamed or redefined at run time, or its stream removed): while
   * occupied, its occupancy ends here with an `exit` at the last reading, so a consumer that saw
   * the `enter` sees the end too. Returns null while clear. The tracker is not fed afterwards.
   */
  end(): ZoneEvent | null {
    if (!this.occupied || this.last === null) return null;
    const before = this.lastReported ?? this.last;
    const ev = this.event('exit', before, this.last, this.last.timeMs);
    this.occupied = false;
    this.pendingSinceMs = null;
    this.sinceMs = this.last.timeMs;
    this.eventId = null;
    this.lastReported = this.last;
    return ev;
  }

  /**
   * While occupied: an `update` when the ratio moved by more than the hysteresis band since the
   * last event, at most once per minDurationMs (so a busy zone does not flood the bus).
   */
  private maybeUpdate(r: ZoneReading): ZoneEvent | null {
    const last = this.lastReported;
    if (last === null) return null;
    if (Math.abs(r.ratio - last.ratio) <= this.zone.hysteresis) return null;
    if (r.timeMs - last.timeMs < this.zone.minDurationMs) return null;
    this.lastReported = r;
    return this.event('update', last, r, null);
  }

  private event(type: ZoneEventType, before: ZoneReading, after: ZoneReading, endMs: number | null): ZoneEvent {
    return { type, id: this.eventId as string, stream: this.streamId, zone: this.zone.name, startMs: this.startMs, endMs, before, after };
  }
}
