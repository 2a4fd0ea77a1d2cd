/**
 * Loaded into a daemon process under test (`node --import dist/test/helpers/leak-probe.js`, spawned
 * with an IPC channel): on `{type: 'leak-probe'}` it collects garbage (twice, a turn of
 * the event loop apart, so what the first pass's finalisers released goes too) and answers with
 * what is left: JS heap, external memory, and the live handles and requests by type. The daemon's
 * own code is untouched; the test's side is leak-stats.ts.
 */
export interface ProbeReply {
  readonly type: 'leak-probe';
  readonly id: number;
  readonly heapUsed: number;
  readonly external: number;
  /** process.getActiveResourcesInfo(), counted by type. */
  readonly resources: Readonly<Record<string, number>>;
}

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isMainThread } from 'node:worker_threads';

if (isMainThread && process.send !== undefined) {
  // --expose-gc, set here rather than on the command line: workers inherit the command line's
  // flags and refuse that one (ERR_WORKER_INVALID_EXEC_ARGV). A new context picks up `gc`.
  setFlagsFromString('--expose-gc');
  const collect = runInNewContext('gc') as () => void;
  process.on('message', (m: unknown) => {
    if (typeof m !== 'object' || m === null || (m as { type?: unknown }).type !== 'leak-probe') return;
    const id = (m as { id: number }).id;
    setImmediate(() => {
      collect();
      setImmediate(() => {
        collect();
        const mu = process.memoryUsage();
        const resources: Record<string, number> = {};
        for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1;
        const reply: ProbeReply = { type: 'leak-probe', id, heapUsed: mu.heapUsed, external: mu.external, resources };
        process.send?.(reply);
      });
    });
  });
  // The channel must not keep a stopping daemon alive.
  process.channel?.unref();
}
