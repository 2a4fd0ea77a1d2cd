/**
 * Ordered start, reverse close (fastify's avvio in miniature). The composition root starts its
 * parts one after the other with `start`; each registers how it is closed. `close()` runs the
 * closers last-started first, so a part is closed while everything it uses still runs. A stage
 * may close several parts at once (`Promise.all` inside one closer) where they do not depend on
 * each other.
 *
 * A start that throws registers nothing for itself; the caller closes what did start (close())
 * and rethrows. Every closer runs even when an earlier one fails: each failure is logged with its
 * part's name, and close() then rejects with the first. Idempotent: later calls get the same promise.
 */
import type { Logger } from 'pino';

interface Closer {
  readonly name: string;
  readonly close: () => Promise<void> | void;
}

export class Lifecycle {
  private readonly closers: Closer[] = [];
  private closing: Promise<void> | null = null;

  constructor(private readonly logger: Logger) {}

  /** Starts a part and registers its closer (when given); refuses once closing has begun. */
  async start<T>(name: string, open: () => T | Promise<T>, close: ((part: T) => Promise<void> | void) | null = null): Promise<T> {
    if (this.closing !== null) throw new Error(`lifecycle: cannot start ${name}: closing`);
    const part = await open();
    if (close !== null) this.onClose(name, () => close(part));
    return part;
  }

  /** Registers a closer for something already started (it runs before every closer registered earlier). */
  onClose(name: string, close: () => Promise<void> | void): void {
    if (this.closing !== null) throw new Error(`lifecycle: cannot register ${name}: closing`);
    this.closers.push({ name, close });
  }

  /** The names of the registered closers, in the order close() runs them. */
  get closeOrder(): readonly string[] {
    return this.closers.map((c) => c.name).reverse();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      let first: unknown = null;
      for (let c = this.closers.pop(); c !== undefined; c = this.closers.pop()) {
        const t0 = Date.now();
        try {
          await c.close();
          this.logger.debug({ part: c.name, ms: Date.now() - t0 }, 'closed');
        } catch (err) {
          this.logger.error({ err, part: c.name }, `closing ${c.name} failed`);
          first ??= err ?? new Error(`closing ${c.name} failed`);
        }
      }
      if (first !== null) throw first;
    })();
    return this.closing;
  }
}
