/**
 * Fault injection for the engine tests, kept out of the production worker: the engine is started
 * with `workerScript: faults.script`, a wrapper around the real inference worker
 * (faulty-inference-worker.ts) that reads one shared flag before each run. arm() sets the flag;
 * the next run of whichever worker the engine has then exits its thread or spins forever, and
 * consumes the flag, so a restarted worker runs normally.
 */
import type { WorkerScript } from '../../pipeline/engine/inference-worker-handle.js';

export type WorkerFault = 'exit' | 'hang';

/** Flag values shared with faulty-inference-worker.ts. */
export const FAULT_CODES: Readonly<Record<WorkerFault, number>> = { exit: 1, hang: 2 };

export class WorkerFaults {
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  /** Pass as OnnxEngineOptions.workerScript. */
  readonly script: WorkerScript = { url: new URL('./faulty-inference-worker.js', import.meta.url), extra: this.flag.buffer };

  /** On its next run the worker exits (code 70) or spins forever (what the run watchdog must catch). */
  arm(fault: WorkerFault): void {
    Atomics.store(this.flag, 0, FAULT_CODES[fault]);
  }
}
