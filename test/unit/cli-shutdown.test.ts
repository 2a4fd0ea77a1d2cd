// daemon/shutdown.ts in-process: graceful stop → exit 0; a stop that hangs is cut by the hard
// timer (still exit 0: the stop was asked for); a failing stop → exit 1; a crash → exit 1;
// repeated signals start one stop only. `exit` is injected so the test process survives.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { installShutdown } from '../../daemon/shutdown.js';

function memoryLogger(): { logger: pino.Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as { level: number; msg: string });
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, dest), lines };
}

function exitPromise(): { exit: (code: number) => void; exited: Promise<number>; calls: number[] } {
  const calls: number[] = [];
  let resolve!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolve = r));
  return {
    calls,
    exited,
    exit: (code) => {
      calls.push(code);
      resolve(code);
    },
  };
}

describe('shutdown', () => {
  it('a graceful stop exits 0 once; later signals do not start another stop', async () => {
    const { logger, lines } = memoryLogger();
    const ex = exitPromise();
    let stops = 0;
    const h = installShutdown({ logger, exit: ex.exit, stop: async () => void stops++ });
    try {
      h.begin('SIGTERM', 0);
      h.begin('SIGINT', 0);
      assert.equal(await ex.exited, 0);
      assert.equal(stops, 1);
      assert.deepEqual(ex.calls, [0]);
      assert.ok(lines.some((l) => l.msg === 'already stopping'));
      assert.ok(lines.some((l) => l.msg === 'stopped'));
    } finally {
      h.uninstall();
    }
  });

  it('a real SIGTERM to this process goes through the same path', async () => {
    const { logger } = memoryLogger();
    const ex = exitPromise();
    const h = installShutdown({ logger, exit: ex.exit, stop: async () => undefined });
    // A signal listener does not keep the event loop alive; this hang guard does.
    const guard = setTimeout(() => undefined, 10000);
    try {
      process.kill(process.pid, 'SIGTERM');
      assert.equal(await ex.exited, 0);
    } finally {
      clearTimeout(guard);
      h.uninstall();
    }
  });

  it('a stop that hangs is cut by the hard timer', async () => {
    const { logger, lines } = memoryLogger();
    const ex = exitPromise();
    const h = installShutdown({ logger, exit: ex.exit, hardTimeoutMs: 50, stop: () => new Promise<void>(() => undefined) });
    try {
      h.begin('SIGTERM', 0);
      assert.equal(await ex.exited, 0);
      assert.ok(lines.some((l) => l.level === 40 && /did not finish within 50 ms/.test(l.msg)), JSON.stringify(lines));
    } finally {
      h.uninstall();
    }
  });

  it('a stop that fails exits 1; a crash exits 1', async () => {
    for (const [reason, code, stop] of [
      ['SIGTERM', 0, () => Promise.reject(new Error('boom'))],
      ['crash', 1, () => Promise.resolve()],
    ] as const) {
      const { logger } = memoryLogger();
      const ex = exitPromise();
      const h = installShutdown({ logger, exit: ex.exit, stop });
      try {
        h.begin(reason, code);
        assert.equal(await ex.exited, 1, reason);
      } finally {
        h.uninstall();
      }
    }
  });
});
