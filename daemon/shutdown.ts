/**
 * Process-level shutdown: SIGTERM/SIGINT stop the daemon gracefully and exit 0; a hard timer
 * guarantees the exit within the stop budget even if something hangs (systemd's TimeoutStopSec
 * is the outer guard). A crash (uncaught exception / unhandled rejection) logs fatal, tries the
 * same graceful stop under the same timer, and exits 1 so systemd's Restart=on-failure applies.
 */
import type { Logger } from 'pino';

export interface ShutdownOptions {
  readonly logger: Logger;
  /** Graceful stop (idempotent). */
  readonly stop: () => Promise<void>;
  /** Budget for stop(); after it the process exits anyway. Default 4500 ms (the contract is 5 s). */
  readonly hardTimeoutMs?: number;
  /** Injected for tests; default process.exit. */
  readonly exit?: (code: number) => void;
}

export interface ShutdownHandle {
  /** Start a shutdown (as a signal would). Later calls are no-ops. */
  begin(reason: string, exitCode: number): void;
  /** Remove the process listeners (for callers that installed them in-process, e.g. tests). */
  uninstall(): void;
}

export function installShutdown(opts: ShutdownOptions): ShutdownHandle {
  const { logger } = opts;
  const hardTimeoutMs = opts.hardTimeoutMs ?? 4500;
  const exit = opts.exit ?? ((code: number): void => process.exit(code));
  let started = false;

  const begin = (reason: string, exitCode: number): void => {
    if (started) {
      logger.info({ reason }, 'already stopping');
      return;
    }
    started = true;
    logger.info({ reason }, 'stopping');
    const hard = setTimeout(() => {
      logger.warn({ reason, hardTimeoutMs }, `graceful stop did not finish within ${hardTimeoutMs} ms; exiting anyway`);
      exit(exitCode);
    }, hardTimeoutMs);
    opts.stop().then(
      () => {
        clearTimeout(hard);
        logger.info({ reason, exitCode }, 'stopped');
        exit(exitCode);
      },
      (err: unknown) => {
        clearTimeout(hard);
        logger.error({ err, reason }, 'error while stopping');
        exit(exitCode === 0 ? 1 : exitCode);
      },
    );
  };

  const onSignal = (signal: NodeJS.Signals): void => begin(signal, 0);
  const onCrash = (err: unknown): void => {
    logger.fatal({ err }, 'uncaught error; stopping');
    begin('crash', 1);
  };

  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);

  return {
    begin,
    uninstall(): void {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.off('uncaughtException', onCrash);
      process.off('unhandledRejection', onCrash);
    },
  };
}
