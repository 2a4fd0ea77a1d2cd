/**
 * The ONNX Runtime session itself, as the inference worker drives it: open with the first usable
 * provider, check against the contract, warm up, run batches. Loads onnxruntime-node: imported
 * only by inference-worker.ts, never by the daemon's main thread.
 */
import { env, Tensor, type InferenceSession } from 'onnxruntime-node';
import { SegdError } from '../core/errors.js';
import type { ExecutionProviderName } from '../core/reasons.js';
import { checkOutput, checkSessionIo, INPUT_NAME, OUTPUT_NAME } from './io-contract.js';
import type { ModelCard } from './model-card.js';
import { openSession, type EngineLog } from './providers.js';
import type { WorkerInit } from './worker-protocol.js';

export class SessionRunner {
  readonly provider: ExecutionProviderName;
  /** All warm-up runs, and the slowest single one (ms): the scale for the engine's run watchdog. */
  readonly warmupMs: number;
  readonly slowestWarmupMs: number;
  private readonly session: InferenceSession;
  private readonly modelPath: string;
  private readonly card: ModelCard;
  private readonly frameBytes: number;
  private readonly maskBytes: number;

  private constructor(init: WorkerInit, session: InferenceSession, provider: ExecutionProviderName, warmup: WarmupTimes) {
    this.session = session;
    this.provider = provider;
    this.warmupMs = warmup.totalMs;
    this.slowestWarmupMs = warmup.slowestMs;
    this.modelPath = init.modelPath;
    this.card = init.card;
    this.maskBytes = init.card.input.height * init.card.input.width;
    this.frameBytes = this.maskBytes * 3;
  }

  /** Throws SEGD_MODEL_INVALID / SEGD_PROVIDER_UNAVAILABLE like the contract says; nothing is left open. */
  static async open(init: WorkerInit, log: EngineLog): Promise<SessionRunner> {
    // ORT's native logger prints provider-load failures straight to stderr, bypassing pino;
    // they surface to us as exceptions and are logged once each by openSession. Takes effect
    // only before the first session of the process (ORT's environment is process-wide).
    env.logLevel = 'fatal';
    const { session, provider } = await openSession(init.modelPath, init.providers, init.settings, log);
    try {
      checkSessionIo(session, init.card, init.modelPath);
      return new SessionRunner(init, session, provider, await warmUp(session, init));
    } catch (err) {
      await session.release();
      throw err;
    }
  }

  /** Runs the first n frames of `input`. Returns n*H*W class ids (fresh ORT output memory). */
  async run(input: ArrayBuffer, n: number): Promise<Uint8Array> {
    const { height: h, width: w } = this.card.input;
    let out: InferenceSession.ReturnType;
    try {
      out = await this.session.run({ [INPUT_NAME]: new Tensor('uint8', new Uint8Array(input, 0, n * this.frameBytes), [n, h, w, 3]) });
    } catch (err) {
      throw new SegdError('SEGD_INFERENCE_FAILED', `inference failed on ${this.modelPath} (batch of ${n}): ${(err as Error).message}`);
    }
    const data = out[OUTPUT_NAME]?.data;
    if (!(data instanceof Uint8Array) || data.length !== n * this.maskBytes) {
      throw new SegdError('SEGD_INFERENCE_FAILED', `model ${this.modelPath} returned no uint8 '${OUTPUT_NAME}' of ${n}x${this.maskBytes} for a batch of ${n}`);
    }
    return data;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

interface WarmupTimes {
  readonly totalMs: number;
  readonly slowestMs: number;
}

/** Runs at maxBatch and at 1 (the shapes the batcher uses most) and checks the real output. */
async function warmUp(session: InferenceSession, init: WorkerInit): Promise<WarmupTimes> {
  const start = performance.now();
  const { height: h, width: w } = init.card.input;
  const frameBytes = h * w * 3;
  const input = new Uint8Array(init.maxBatch * frameBytes).fill(128);
  const sizes = init.warmupRuns > 0 ? [init.maxBatch, 1] : [1]; // with 0 runs, still verify the output once
  let slowest = 0;
  for (let r = 0; r < Math.max(init.warmupRuns, 1); r++) {
    for (const n of sizes) {
      let out: InferenceSession.ReturnType;
      const t0 = performance.now();
      try {
        out = await session.run({ [INPUT_NAME]: new Tensor('uint8', input.subarray(0, n * frameBytes), [n, h, w, 3]) });
      } catch (err) {
        const msg = `model ${init.modelPath} failed its warm-up run on a batch of ${n} (expected to accept [N, ${h}, ${w}, 3] uint8): ${(err as Error).message}`;
        throw new SegdError('SEGD_MODEL_INVALID', msg, [msg]);
      }
      slowest = Math.max(slowest, performance.now() - t0);
      checkOutput(out[OUTPUT_NAME], n, init.card, init.modelPath);
    }
  }
  // A grey frame shows few classes: one varied frame too, so a card listing fewer classes than the
  // model emits (ids beyond the card's) is refused here rather than reaching clients (issue 28 F3).
  let probe: InferenceSession.ReturnType;
  try {
    probe = await session.run({ [INPUT_NAME]: new Tensor('uint8', probeFrame(h, w), [1, h, w, 3]) });
  } catch (err) {
    const msg = `model ${init.modelPath} failed its warm-up run on a varied frame (expected to accept [N, ${h}, ${w}, 3] uint8): ${(err as Error).message}`;
    throw new SegdError('SEGD_MODEL_INVALID', msg, [msg]);
  }
  checkOutput(probe[OUTPUT_NAME], 1, init.card, init.modelPath);
  return { totalMs: performance.now() - start, slowestMs: slowest };
}

/**
 * A deterministic frame with many colours and textures (hue across, brightness down, noisy tiles),
 * so a segmentation model emits more of its classes than on grey (the shipped CamVid model: ids 0, 5, 6, 8 against 0).
 */
const PROBE_MAX = 190;

export function probeFrame(h: number, w: number): Uint8Array {
  const out = new Uint8Array(h * w * 3);
  let seed = 0x2545f491;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const hue = (x / w) * 6;
      const level = 1 - y / h;
      const c = Math.floor(hue);
      const f = hue - c;
      const rgb = [
        [1, f, 0],
        [1 - f, 1, 0],
        [0, 1, f],
        [0, 1 - f, 1],
        [f, 0, 1],
        [1, 0, 1 - f],
      ][c % 6] as number[];
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      const textured = ((x >> 3) + (y >> 3)) % 3 === 0;
      const noise = textured ? ((seed >>> 0) % 40) - 20 : 0;
      const i = (y * w + x) * 3;
      // At most PROBE_MAX: the frame stays within what a camera's exposure gives (no clipped whites).
      for (let k = 0; k < 3; k++) out[i + k] = Math.max(0, Math.min(PROBE_MAX, Math.round(PROBE_MAX * level * (rgb[k] as number) + noise)));
    }
  }
  return out;
}
