/**
 * Config reload (SIGHUP, `systemctl reload segd`, POST /api/reload): the file is read again and
 * validated whole; an invalid file changes nothing and logs one error line per violation. A valid
 * one is reconciled with what runs: a changed model is swapped first (if it fails, nothing else
 * changes), then only the streams whose settings differ restart, new ones start, and those no
 * longer listed stop. Settings that only apply at start-up are named in a warning. One reload at
 * a time; a reload asked for during one runs once more after it (the file may have changed again).
 */
import type { Logger } from 'pino';
import { SegdError } from '../../pipeline/core/errors.js';
import type { SegdConfig } from '../config/schema.js';
import { ControlError } from './control-error.js';
import type { ModelSwap } from './model-swap.js';
import { planReload } from './reconcile.js';
import type { StreamRegistry } from './stream-registry.js';

export interface ReloadResult {
  readonly added: readonly string[];
  readonly changed: readonly string[];
  readonly removed: readonly string[];
  /** The model now serving when the reload swapped it, else null. */
  readonly model: string | null;
  readonly needsRestart: readonly string[];
  /** Stream operations that failed, one line each (the others took effect). */
  readonly failed: readonly string[];
}

export interface ConfigReloaderOptions {
  /** Reads and validates the config file (with the command line's overrides); throws SegdError. */
  readonly load: () => SegdConfig;
  readonly source: string;
  /** The config the daemon started with (settings outside streams and model). */
  readonly startConfig: SegdConfig;
  readonly registry: StreamRegistry;
  readonly models: ModelSwap;
  readonly logger: Logger;
}

export class ConfigReloader {
  private running: Promise<ReloadResult> | null = null;
  private queued: Promise<ReloadResult> | null = null;

  constructor(private readonly opts: ConfigReloaderOptions) {}

  reload(): Promise<ReloadResult> {
    if (this.running === null) return this.start();
    this.queued ??= this.running.catch(() => undefined).then(() => {
      this.queued = null;
      return this.start();
    });
    return this.queued;
  }

  private start(): Promise<ReloadResult> {
    const run = this.run().finally(() => {
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }

  private async run(): Promise<ReloadResult> {
    const { logger, registry, models } = this.opts;
    logger.info({ config: this.opts.source }, 'config reload: reading the file');
    let next: SegdConfig;
    try {
      next = this.opts.load();
    } catch (err) {
      if (!(err instanceof SegdError)) throw err;
      const problems = err.details.length > 0 ? err.details : [err.message];
      for (const line of problems) logger.error({ code: err.code, config: this.opts.source }, `config reload: ${line}`);
      logger.warn({ config: this.opts.source, problems: problems.length }, 'config reload refused: nothing changed');
      throw new ControlError('invalid_config', null, 'a valid config file (node dist/daemon/cli.js check-config FILE)', `config file ${this.opts.source}: ${problems.length} problem(s); nothing changed`, problems, { cause: err });
    }
    const plan = planReload({ streams: registry.list(), model: models.choice, config: this.opts.startConfig }, next);
    let model: string | null = null;
    if (plan.model !== null) model = (await models.swap(plan.model)).card.name; // refused: nothing else changes

    const failed: string[] = [];
    const settle = async (what: string, op: Promise<unknown>): Promise<void> => {
      try {
        await op;
      } catch (err) {
        failed.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    // Changes and additions before removals: a file that replaces every stream never leaves none.
    await Promise.all([
      ...plan.change.map((s) => settle(`change ${s.id}`, registry.replace(s))),
      ...plan.add.map((s) => settle(`add ${s.id}`, registry.add(s, { limits: false }))),
    ]);
    await Promise.all(plan.remove.map((id) => settle(`remove ${id}`, registry.remove(id, { limits: false }))));
    for (const line of failed) logger.error({ config: this.opts.source }, `config reload: ${line}`);
    if (plan.needsRestart.length > 0) {
      logger.warn({ keys: plan.needsRestart }, `config reload: ${plan.needsRestart.join(', ')} changed; these take effect at the next restart`);
    }
    const result: ReloadResult = {
      added: plan.add.map((s) => s.id),
      changed: plan.change.map((s) => s.id),
      removed: plan.remove,
      model,
      needsRestart: plan.needsRestart,
      failed,
    };
    logger.info(result, 'config reloaded');
    return result;
  }
}
