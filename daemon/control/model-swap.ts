/**
 * The serving model and its hot swap. The new model is loaded and warmed up in its own worker
 * thread beside the serving one (which keeps inferring), then the batcher switches to it between
 * two batches, never during one. At the switch, synchronously, `onSwitched` runs (the publisher
 * announces the new card there, so it precedes the new model's first mask); then the old engine
 * is closed. A model that fails to load or warm up is closed and reported (`model_rejected`,
 * naming the file and the cause); the old one never stops serving. One swap at a time.
 */
import type { Logger } from 'pino';
import type { Batcher } from '../../pipeline/batching/batcher.js';
import { SegdError } from '../../pipeline/core/errors.js';
import type { SegEngine } from '../../pipeline/engine/index.js';
import { ControlError } from './control-error.js';

/** Which model to serve: the .onnx file and its card (null = the .json beside it). */
export interface ModelChoice {
  readonly path: string;
  readonly card: string | null;
}

export interface ModelSwapOptions {
  readonly initial: SegEngine;
  readonly initialChoice: ModelChoice;
  readonly batcher: Batcher;
  /** Loads and warms up a model (SegEngine.create with the daemon's settings). */
  readonly load: (choice: ModelChoice) => Promise<SegEngine>;
  /** At the switch, before the first batch of `engine` is formed. */
  readonly onSwitched: (engine: SegEngine, previous: SegEngine) => void;
  readonly logger: Logger;
}

export class ModelSwap {
  private serving: SegEngine;
  private servingChoice: ModelChoice;
  private swapping: Promise<SegEngine> | null = null;
  private closing: Promise<void> | null = null;

  constructor(private readonly opts: ModelSwapOptions) {
    this.serving = opts.initial;
    this.servingChoice = opts.initialChoice;
  }

  get engine(): SegEngine {
    return this.serving;
  }

  get choice(): ModelChoice {
    return this.servingChoice;
  }

  /** Resolves with the new engine once it serves; rejects `model_rejected` (old model still serving), `busy` or `stopping`. */
  swap(choice: ModelChoice): Promise<SegEngine> {
    if (this.closing !== null) return Promise.reject(new ControlError('stopping', null, 'a running daemon', 'the daemon is stopping'));
    if (this.swapping !== null) {
      return Promise.reject(new ControlError('busy', null, 'one model swap at a time', 'a model swap is already in progress; retry when it is done'));
    }
    const swapping = this.run(choice).finally(() => {
      this.swapping = null;
    });
    this.swapping = swapping;
    return swapping;
  }

  /** Waits for a swap in progress, then closes the serving engine. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.swapping?.catch(() => undefined);
      await this.serving.close();
    })();
    return this.closing;
  }

  private async run(choice: ModelChoice): Promise<SegEngine> {
    const log = this.opts.logger;
    const t0 = Date.now();
    log.info({ model: choice.path, card: choice.card }, 'model swap: loading the new model beside the serving one');
    let next: SegEngine;
    try {
      next = await this.opts.load(choice);
    } catch (err) {
      const cause = err instanceof Error ? err.message : String(err);
      const code = err instanceof SegdError ? err.code : 'SEGD_MODEL_INVALID';
      // Engine errors name the file already; say it again when one does not.
      const message = cause.includes(choice.path) ? cause : `${choice.path}: ${cause}`;
      log.error({ model: choice.path, code }, `model swap refused; the serving model stays: ${message}`);
      throw new ControlError('model_rejected', 'path', 'an .onnx model (with its card) that loads and warms up', message, err instanceof SegdError ? err.details : [], { cause: err });
    }
    if (this.closing !== null) {
      await next.close();
      throw new ControlError('stopping', null, 'a running daemon', 'the daemon is stopping');
    }
    const previous = this.serving;
    try {
      await this.opts.batcher.swapEngine(next, () => {
        this.serving = next;
        this.servingChoice = choice;
        this.opts.onSwitched(next, previous);
      });
    } catch (err) {
      await next.close(); // the batcher is draining: the daemon stops
      throw new ControlError('stopping', null, 'a running daemon', 'the daemon is stopping', [], { cause: err });
    }
    await previous.close();
    log.info({ model: next.card.name, previous: previous.card.name, ms: Date.now() - t0 }, 'model swap: the new model serves');
    return next;
  }
}
