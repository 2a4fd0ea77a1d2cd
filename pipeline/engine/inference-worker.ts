/**
 * The inference worker thread: the only place the daemon loads onnxruntime-node. ONNX Runtime's
 * `session.run` (and model loading) runs synchronously on the calling thread, so on the main
 * thread it would stall ffmpeg reads, WebSocket sends and /metrics for a whole batch. Exactly one
 * such worker per engine: several threads using onnxruntime-node at once is known to crash
 * (microsoft/onnxruntime#24486).
 *
 * Protocol (worker-protocol.ts): open + check + warm up, then `ready` (or `failed` and exit);
 * `run` → `result` | `run-failed`, handing back the transferred input buffer; `close` → release
 * the session and exit.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SessionRunner } from './session-runner.js';
import { toWire, type FromWorker, type LogLevel, type ToWorker, type WorkerData } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('inference-worker.ts must run as a worker thread (OnnxEngine starts it)');

function post(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(msg, transfer);
}

const log = (level: LogLevel) => (obj: object, msg: string): void => post({ type: 'log', level, obj, msg });
const relay = { info: log('info'), warn: log('warn') };

async function main(): Promise<void> {
  let runner: SessionRunner;
  try {
    runner = await SessionRunner.open((workerData as WorkerData).init, relay);
  } catch (err) {
    post({ type: 'failed', error: toWire(err) });
    port?.close(); // nothing else keeps this thread alive: it exits
    return;
  }
  post({ type: 'ready', provider: runner.provider, warmupMs: runner.warmupMs, slowestWarmupMs: runner.slowestWarmupMs });

  // One message at a time: the engine sends a run only after the previous one settled.
  port?.on('message', (msg: ToWorker) => {
    switch (msg.type) {
      case 'run':
        return void onRun(runner, msg.id, msg.n, msg.input);
      case 'close':
        return void runner.release().finally(() => port.close());
    }
  });
}

async function onRun(runner: SessionRunner, id: number, n: number, input: ArrayBuffer): Promise<void> {
  try {
    const mask = await runner.run(input, n);
    post({ type: 'result', id, mask, input }, [mask.buffer as ArrayBuffer, input]);
  } catch (err) {
    post({ type: 'run-failed', id, error: toWire(err), input }, [input]);
  }
}

void main();
