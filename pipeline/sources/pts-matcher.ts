/**
 * Pairs frames cut from ffmpeg's stdout with the pts that `showinfo` prints on stderr.
 *
 * showinfo logs frame n before ffmpeg writes frame n to stdout, but the two pipes are read
 * independently, so frame n may be cut before its line is parsed. Frames therefore wait here, in
 * order, until their line arrives. The line is already in the stderr pipe when the frame's bytes
 * are read, so the optional `drain` hook (pipe-drain.ts) first pulls it in synchronously. Without
 * it, libuv may report stderr readable only on the next poll, so a waiting frame is
 * flushed after two event-loop turns (two chained setImmediate: the second runs after the next
 * poll phase). The wait is also bounded by `maxPending` frames. An unmatched frame gets null.
 * Pts values are kept in a small ring indexed by frame number.
 */

export type PtsDeliver<T> = (item: T, ptsMs: number | null) => void;

export class PtsMatcher<T> {
  private readonly deliver: PtsDeliver<T>;
  private readonly ringSize: number;
  private readonly ringN: Float64Array;
  private readonly ringPts: Float64Array;
  private readonly maxPending: number;
  private readonly drain: (() => void) | undefined;
  private readonly pendingN: number[] = [];
  private readonly pendingItem: T[] = [];
  private immediate: NodeJS.Immediate | null = null;
  private readonly flushNow = (): void => {
    this.immediate = null;
    this.flush();
  };
  private readonly nextTurn = (): void => {
    this.immediate = setImmediate(this.flushNow);
  };

  /**
   * `drain`, when given, is called when a frame's pts is not known yet; it should feed any stderr
   * already written into onPts() synchronously.
   */
  constructor(deliver: PtsDeliver<T>, opts: { ringSize?: number; maxPending?: number; drain?: () => void } = {}) {
    this.deliver = deliver;
    this.drain = opts.drain;
    this.ringSize = opts.ringSize ?? 64;
    this.maxPending = opts.maxPending ?? 4;
    this.ringN = new Float64Array(this.ringSize).fill(-1);
    this.ringPts = new Float64Array(this.ringSize);
  }

  /** showinfo reported frame `n` with this pts (NaN/null when the stream had none). */
  onPts(n: number, ptsMs: number | null): void {
    const i = n % this.ringSize;
    this.ringN[i] = n;
    this.ringPts[i] = ptsMs ?? Number.NaN;
    // Every waiting frame up to n now has its answer (a missing line means unknown pts).
    while (this.pendingN.length > 0 && (this.pendingN[0] as number) <= n) this.shift();
    if (this.pendingN.length === 0) this.cancelImmediate();
  }

  /** Frame number `n` (0-based, per ffmpeg child) was cut. */
  onFrame(n: number, item: T): void {
    // Draining may deliver earlier waiting frames (via onPts) before this one: order is kept.
    if (this.ringN[n % this.ringSize] !== n && this.drain !== undefined) this.drain();
    if (this.pendingN.length === 0 && this.ringN[n % this.ringSize] === n) {
      this.deliver(item, this.lookup(n));
      return;
    }
    this.pendingN.push(n);
    this.pendingItem.push(item);
    if (this.pendingN.length > this.maxPending) this.shift();
    if (this.immediate === null) this.immediate = setImmediate(this.nextTurn);
  }

  /** Delivers every waiting frame now, with whatever pts is known (child exited, or timeout). */
  flush(): void {
    while (this.pendingN.length > 0) this.shift();
    this.cancelImmediate();
  }

  /** New ffmpeg child: frame numbers restart at 0. Call flush() first to keep waiting frames. */
  reset(): void {
    this.flush();
    this.ringN.fill(-1);
  }

  private lookup(n: number): number | null {
    const i = n % this.ringSize;
    if (this.ringN[i] !== n) return null;
    const pts = this.ringPts[i] as number;
    return Number.isNaN(pts) ? null : pts;
  }

  private shift(): void {
    const n = this.pendingN.shift() as number;
    const item = this.pendingItem.shift() as T;
    this.deliver(item, this.lookup(n));
  }

  private cancelImmediate(): void {
    if (this.immediate !== null) {
      clearImmediate(this.immediate);
      this.immediate = null;
    }
  }
}
