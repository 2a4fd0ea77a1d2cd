/**
 * A test-only inference worker: the real one (pipeline/engine/inference-worker.ts), with a
 * message listener registered first, so it sees each `run` before the real worker does and can
 * end the thread there (WorkerFaults.arm). The flag is shared memory: arming sends the worker nothing.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerData } from '../../pipeline/engine/worker-protocol.js';
import { FAULT_CODES } from './worker-faults.js';

const flag = new Int32Array((workerData as WorkerData).extra as SharedArrayBuffer);

parentPort?.on('message', (msg: { type?: string }) => {
  if (msg.type !== 'run') return;
  const fault = Atomics.exchange(flag, 0, 0);
  if (fault === FAULT_CODES.exit) process.exit(70); // ends this thread only; the engine sees 'exit'
  if (fault === FAULT_CODES.hang) for (;;); // a JS spin: only the engine's run watchdog can end it
});

await import('../../pipeline/engine/inference-worker.js');
