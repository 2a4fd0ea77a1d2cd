/** Order statistics for the benchmark: percentiles of samples, medians and spreads of rounds. */

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export function median(xs: readonly number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** (max − min) / median: how far the rounds disagree, relative to the figure. */
export function spread(xs: readonly number[]): number {
  const s = xs.filter(Number.isFinite);
  if (s.length < 2) return Number.NaN;
  return (Math.max(...s) - Math.min(...s)) / Math.abs(median(s));
}

export interface Summary {
  readonly median: number;
  readonly spread: number;
  readonly rounds: readonly number[];
}

export function summarize(xs: readonly number[]): Summary {
  return { median: median(xs), spread: spread(xs), rounds: [...xs] };
}
