/**
 * A small seeded PRNG (mulberry32) for the fuzz tests: the same seed gives the same inputs, so a
 * failure reproduces. The seed is printed by the tests; override with env SEGD_FUZZ_SEED.
 */
export class Prng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** [0, 1) */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }

  /** Random text mixing ASCII, JSON punctuation, control characters and non-BMP characters. */
  text(n: number): string {
    const pool = ['a', 'z', '0', ' ', '"', '\\', '{', '}', '[', ']', ':', ',', '\n', '\u0000', '\u00e9', '\u4e2d', '\ud83d\ude00', '\ud800'];
    let s = '';
    for (let i = 0; i < n; i++) s += this.pick(pool);
    return s;
  }
}

/** env SEGD_FUZZ_SEED, else the given default. */
export function fuzzSeed(fallback: number): number {
  const v = process.env['SEGD_FUZZ_SEED'];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : fallback;
}
