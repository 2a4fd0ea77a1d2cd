/**
 * Operations on one key (a stream id, "model") run one after another, in the order they were
 * asked for; different keys run concurrently. Bounded: a key with `maxPending` operations already
 * waiting or running refuses more (`busy`) instead of growing a queue.
 */
import { ControlError } from './control-error.js';

interface Lane {
  tail: Promise<unknown>;
  pending: number;
}

export class KeyedSerial {
  private readonly lanes = new Map<string, Lane>();

  constructor(
    private readonly maxPending: number,
    /** Names the key in the `busy` error ("stream cam1"). */
    private readonly describe: (key: string) => string = (key) => key,
  ) {}

  /** Runs `task` once every earlier operation on `key` has settled; rejects with `busy` when the lane is full. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      lane = { tail: Promise.resolve(), pending: 0 };
      this.lanes.set(key, lane);
    }
    if (lane.pending >= this.maxPending) {
      return Promise.reject(
        new ControlError('busy', null, `at most ${this.maxPending} operations waiting on ${this.describe(key)}`, `${this.describe(key)}: ${lane.pending} operations already waiting; retry later`),
      );
    }
    const l = lane;
    l.pending++;
    const result = l.tail.then(task);
    // The lane goes once nothing waits on it: keys asked for once (a typo'd id) do not pile up.
    l.tail = result.then(
      () => this.settled(key, l),
      () => this.settled(key, l),
    );
    return result;
  }

  /** Resolves once every operation asked for so far (on every key) has settled. */
  async idle(): Promise<void> {
    await Promise.all([...this.lanes.values()].map((l) => l.tail));
  }

  private settled(key: string, lane: Lane): void {
    if (--lane.pending === 0 && this.lanes.get(key) === lane) this.lanes.delete(key);
  }
}
