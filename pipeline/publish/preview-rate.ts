/**
 * Per-client, per-stream rate limit for preview JPEGs: a token bucket refilled at `maxFps` holding
 * at most BURST tokens. A bucket (rather than "at least 1/maxFps since the last one") tolerates
 * frame-arrival jitter: at a source rate equal to maxFps, no frame is skipped for arriving a few
 * milliseconds early, and the long-run rate still never exceeds maxFps.
 */
const BURST = 2;

interface Bucket {
  tokens: number;
  atMs: number;
}

export class PreviewRate {
  readonly maxFps: number;
  /** One bucket per stream id the client has seen previews of (bounded by the server's streams). */
  private readonly buckets = new Map<string, Bucket>();

  constructor(maxFps: number) {
    if (!(maxFps > 0)) throw new RangeError(`PreviewRate: maxFps ${maxFps}; expected > 0`);
    this.maxFps = maxFps;
  }

  /** True when a preview of `streamId` may be sent at `nowMs` (and takes the token). */
  allow(streamId: string, nowMs: number): boolean {
    let b = this.buckets.get(streamId);
    if (b === undefined) {
      b = { tokens: BURST, atMs: nowMs };
      this.buckets.set(streamId, b);
    } else {
      b.tokens = Math.min(BURST, b.tokens + ((nowMs - b.atMs) * this.maxFps) / 1000);
      b.atMs = nowMs;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
