/**
 * One ffmpeg process: spawned in its own process group (so a kill reaches anything it started),
 * stdout and stderr piped, killed with SIGTERM then SIGKILL after a grace period, and one exit
 * report, whatever the way it ends (exit, signal, or a spawn that never produced a process).
 * Restarting is the supervisor's business (source-supervisor.ts); a child never comes back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** No process was ever started (bad path, EACCES, ...). */
  readonly spawnFailed: boolean;
}

export class FfmpegChild {
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Resolves once the child is gone and its pipes are closed. */
  readonly gone: Promise<ChildExit>;
  private readonly proc: ChildProcess;
  private exited = false;
  private graceTimer: NodeJS.Timeout | null = null;

  /** `onExit` is called once, after all of stdout was read ('close', not 'exit': the last frame is not lost). */
  constructor(path: string, args: readonly string[], log: Logger, onExit: (exit: ChildExit) => void) {
    const proc = spawn(path, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    if (proc.stdout === null || proc.stderr === null) throw new Error('ffmpeg spawned without stdio pipes');
    this.stdout = proc.stdout;
    this.stderr = proc.stderr;
    let settle!: (exit: ChildExit) => void;
    this.gone = new Promise<ChildExit>((resolve) => (settle = resolve));
    const finish = (exit: ChildExit): void => {
      if (this.exited) return;
      this.exited = true;
      if (this.graceTimer !== null) clearTimeout(this.graceTimer);
      this.graceTimer = null;
      onExit(exit);
      settle(exit);
    };
    // Pipe errors (EPIPE on a dying child) surface through 'close'; they must not throw.
    this.stdout.on('error', (err) => log.debug({ err }, 'ffmpeg stdout error'));
    this.stderr.on('error', (err) => log.debug({ err }, 'ffmpeg stderr error'));
    proc.on('error', (err) => {
      if (proc.pid === undefined) {
        log.error({ err: { message: err.message } }, 'ffmpeg spawn failed');
        finish({ code: null, signal: null, spawnFailed: true });
      } else {
        log.warn({ err: { message: err.message } }, 'ffmpeg child error');
      }
    });
    proc.on('close', (code, signal) => finish({ code, signal, spawnFailed: false }));
    log.debug({ pid: proc.pid }, 'ffmpeg spawned');
  }

  /** pid of the child (also its process group id); null when it never started. */
  get pid(): number | null {
    return this.proc.pid ?? null;
  }

  /** SIGTERM the process group, SIGKILL it after `graceMs`. Idempotent; nothing once it has exited. */
  kill(graceMs: number): void {
    const pid = this.proc.pid;
    if (pid === undefined || this.exited || this.graceTimer !== null) return;
    const signalGroup = (sig: NodeJS.Signals): void => {
      try {
        process.kill(-pid, sig);
      } catch {
        // ESRCH: already gone.
      }
    };
    signalGroup('SIGTERM');
    this.graceTimer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
  }
}
