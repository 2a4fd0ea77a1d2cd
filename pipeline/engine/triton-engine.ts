/**
 * The `triton` engine: every cross-stream batch goes to a Triton server as one KServe v2
 * inference request, over HTTP with binary tensors or over gRPC as the URL's scheme says
 * (triton-transport.ts; HTTP measured faster here: docs/triton.md). segd keeps decoding, batching,
 * analysis and publishing; Triton runs the model.
 *
 * Start (`create`): the server must answer, the model must exist and be ready, its metadata must
 * match the contract for the card (a local card file, or the JSON in the model config parameter
 * `segd_card`), and a warm-up batch of maxBatch and of 1 must come back as valid masks. Anything
 * else is refused with the culprit named (the URL, the model, the tensor).
 *
 * Outage (an RPC fails: server gone, model unloaded, deadline passed): the engine turns
 * unavailable with the reason; batches asked for meanwhile fail at once with
 * SEGD_INFERENCE_UNAVAILABLE and no RPC (the batcher drops their frames as
 * `inference_unavailable`), sources keep running, /readyz says not ready and why. A probe
 * (ModelReady) retries on core/backoff.ts's schedule; its first good reply makes the engine
 * available again. The engine never gives up: a fleet's Triton may be down for a while.
 *
 * Up to `maxInFlight` batches in flight (the batcher publishes them in order): the round trip is
 * mostly waiting on the network and the server, so a second request hides it. The input buffers
 * are a ring of maxInFlight, handed out in turn by acquireInput(); a buffer is left as filled
 * until the ring comes round to it again, so the batcher reads its pixels after the run. The mask
 * is the reply's own memory, fresh per batch.
 */
import type { Logger } from 'pino';
import { Backoff } from '../core/backoff.js';
import { SegdError } from '../core/errors.js';
import type { GrpcStatusName, TritonRpcMethod } from '../core/reasons.js';
import type { SegEngine } from './engine.js';
import { INPUT_NAME, OUTPUT_NAME } from './io-contract.js';
import { readModelCard, validateModelCard, type ModelCard } from './model-card.js';
import { TritonGrpcClient } from './triton-grpc-client.js';
import { TritonHttpClient } from './triton-http-client.js';
import { parseTritonUrl, TritonRpcError, type TritonTls, type TritonTransport, type TritonTransportOptions } from './triton-transport.js';
import { checkClassIds, checkTritonMetadata, maskOfReply } from './triton-contract.js';

/** The model config parameter holding the card's JSON (docs/triton.md). */
export const CARD_PARAMETER = 'segd_card';

/** Codes that mean "our request was wrong", not "the server is away": the batch fails, the engine stays available. */
const REQUEST_ERRORS: ReadonlySet<GrpcStatusName> = new Set(['INVALID_ARGUMENT', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'FAILED_PRECONDITION']);

export interface TritonHooks {
  /** Every RPC, with its duration and outcome (a gRPC status name, or 'OK'). */
  readonly onRpc?: (method: TritonRpcMethod, seconds: number, code: GrpcStatusName | 'OK') => void;
  /** Inference RPCs in flight (0…maxInFlight). */
  readonly onInFlight?: (n: number) => void;
}

export interface TritonEngineOptions {
  /** grpc://, grpcs://, http:// or https:// then host:port: the scheme picks the transport. */
  readonly url: string;
  readonly model: string;
  /** '' = the server's choice (its version policy; normally the latest). */
  readonly version: string;
  /** Deadline of every RPC. */
  readonly timeoutMs: number;
  readonly tls: TritonTls;
  readonly headers: Readonly<Record<string, string>>;
  /** A local card file; null = the card from the model config parameter `segd_card`. */
  readonly cardPath: string | null;
  readonly maxBatch: number;
  /** Inference requests in flight at once (≥ 1). */
  readonly maxInFlight: number;
  /** Probe delays while unavailable (core/backoff.ts). */
  readonly reconnect: { readonly minMs: number; readonly maxMs: number };
  readonly logger: Logger;
  readonly hooks?: TritonHooks;
}

/** A mask frame this large (4096×4096) bounds a reply: nothing larger is accepted from the server. */
const MAX_MASK_BYTES_PER_FRAME = 4096 * 4096;

export class TritonEngine implements SegEngine {
  readonly modelPath: string;
  readonly cardPath: string;
  readonly card: ModelCard;
  readonly provider = 'triton' as const;
  readonly inputHeight: number;
  readonly inputWidth: number;
  readonly maxBatch: number;
  readonly frameBytes: number;

  private readonly opts: TritonEngineOptions;
  private readonly client: TritonTransport;
  readonly maxInFlight: number;
  /** The ring of input buffers; `next` is the one acquireInput() hands out next, `filled` the last handed out. */
  private readonly inputs: readonly Uint8Array[];
  private next = 0;
  private filled: Uint8Array;
  private readonly backoff: Backoff;
  private unavailable: string | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private probing: Promise<void> | null = null;
  private readonly inFlight = new Set<Promise<Uint8Array>>();
  private closed = false;

  private constructor(opts: TritonEngineOptions, client: TritonTransport, card: ModelCard, cardPath: string) {
    this.opts = opts;
    this.client = client;
    this.card = card;
    this.cardPath = cardPath;
    this.modelPath = tritonModelAddress(opts);
    this.inputHeight = card.input.height;
    this.inputWidth = card.input.width;
    this.maxBatch = opts.maxBatch;
    this.frameBytes = this.inputHeight * this.inputWidth * 3;
    this.maxInFlight = opts.maxInFlight;
    this.inputs = Array.from({ length: opts.maxInFlight }, () => new Uint8Array(this.maxBatch * this.frameBytes));
    this.filled = this.inputs[0] as Uint8Array;
    this.backoff = new Backoff({ minMs: opts.reconnect.minMs, maxMs: opts.reconnect.maxMs });
  }

  static async create(opts: TritonEngineOptions): Promise<TritonEngine> {
    if (!Number.isInteger(opts.maxBatch) || opts.maxBatch < 1) {
      throw new RangeError(`TritonEngine: maxBatch must be an integer >= 1, got ${String(opts.maxBatch)}`);
    }
    if (!Number.isInteger(opts.maxInFlight) || opts.maxInFlight < 1) {
      throw new RangeError(`TritonEngine: maxInFlight must be an integer >= 1, got ${String(opts.maxInFlight)}`);
    }
    const t0 = performance.now();
    const where = tritonModelAddress(opts);
    const client = openTransport({
      url: opts.url,
      tls: opts.tls,
      headers: opts.headers,
      maxReceiveBytes: opts.maxBatch * MAX_MASK_BYTES_PER_FRAME + (1 << 20),
      ...(opts.hooks?.onRpc ? { onRpc: opts.hooks.onRpc } : {}),
    });
    try {
      const { card, cardPath } = await openModel(client, opts, where);
      const engine = new TritonEngine(opts, client, card, cardPath);
      const warmupMs = await engine.warmUp(where);
      opts.logger.info(
        { model: where, card: cardPath, name: card.name, provider: 'triton', input: `${card.input.height}x${card.input.width}`, maxBatch: opts.maxBatch, maxInFlight: opts.maxInFlight, loadMs: Math.round(performance.now() - t0 - warmupMs), warmupMs: Math.round(warmupMs) },
        'triton model checked and warmed up',
      );
      return engine;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  get unavailableReason(): string | null {
    return this.closed ? 'engine closed' : this.unavailable;
  }

  /**
   * The next buffer of the ring. Safe while the caller keeps at most maxInFlight batches alive (in
   * flight or not yet consumed) and consumes them in order: the ring then never comes round to one
   * still in use.
   */
  acquireInput(): Uint8Array {
    if (this.inFlight.size >= this.maxInFlight) throw new Error(`TritonEngine.acquireInput: ${this.inFlight.size} runs in flight, the most is ${this.maxInFlight}`);
    this.filled = this.inputs[this.next] as Uint8Array;
    this.next = (this.next + 1) % this.maxInFlight;
    return this.filled;
  }

  run(n: number): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new SegdError('SEGD_INFERENCE_FAILED', `engine for ${this.modelPath} is closed`));
    if (!Number.isInteger(n) || n < 1 || n > this.maxBatch) {
      return Promise.reject(new RangeError(`TritonEngine.run: expected an integer 1 <= n <= ${this.maxBatch}, got n=${n}`));
    }
    if (this.inFlight.size >= this.maxInFlight) return Promise.reject(new Error(`TritonEngine.run: ${this.inFlight.size} runs already in flight, the most is ${this.maxInFlight}`));
    if (this.unavailable !== null) return Promise.reject(this.unavailableError());
    const running = this.infer(n, this.filled).finally(() => {
      this.inFlight.delete(running);
      this.opts.hooks?.onInFlight?.(this.inFlight.size);
    });
    this.inFlight.add(running);
    this.opts.hooks?.onInFlight?.(this.inFlight.size);
    return running;
  }

  /** Lets a batch in flight settle, stops probing, closes the channel. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.probeTimer !== null) clearTimeout(this.probeTimer);
    this.probeTimer = null;
    await Promise.all([...this.inFlight].map((r) => r.catch(() => undefined)));
    await this.probing;
    this.client.close();
  }

  private async infer(n: number, input: Uint8Array): Promise<Uint8Array> {
    const { height: h, width: w } = this.card.input;
    let outputs;
    try {
      outputs = await this.client.infer(
        this.opts.model,
        this.opts.version,
        { name: INPUT_NAME, shape: [n, h, w, 3], data: input.subarray(0, n * this.frameBytes) },
        OUTPUT_NAME,
        this.opts.timeoutMs,
      );
    } catch (err) {
      if (err instanceof TritonRpcError && REQUEST_ERRORS.has(err.code)) {
        throw new SegdError('SEGD_INFERENCE_FAILED', `triton model ${this.modelPath} refused a batch of ${n}: ${err.message}`, [], { cause: err });
      }
      this.markUnavailable(`inference on ${this.modelPath} failed: ${(err as Error).message}`);
      throw this.unavailableError();
    }
    return maskOfReply(outputs, n, this.card, this.modelPath);
  }

  private unavailableError(): SegdError {
    return new SegdError('SEGD_INFERENCE_UNAVAILABLE', `triton unavailable: ${this.unavailable ?? 'unknown'}`, [this.unavailable ?? '']);
  }

  private markUnavailable(reason: string): void {
    if (this.closed) return;
    const first = this.unavailable === null;
    this.unavailable = reason;
    if (!first) return;
    this.opts.logger.warn({ model: this.modelPath, reason }, 'triton unavailable: frames drop (inference_unavailable) until it answers again');
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.closed) return;
    const delayMs = this.backoff.next();
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      this.probing = this.probe().finally(() => (this.probing = null));
    }, delayMs);
  }

  /** ModelReady: true brings the engine back; anything else keeps it away and schedules the next probe. */
  private async probe(): Promise<void> {
    let why: string;
    try {
      if (await this.client.modelReady(this.opts.model, this.opts.version, this.opts.timeoutMs)) {
        if (this.closed) return;
        const down = this.unavailable;
        this.unavailable = null;
        this.backoff.reset();
        this.opts.logger.info({ model: this.modelPath, was: down }, 'triton available again: inference resumes');
        return;
      }
      why = `model ${this.opts.model} is not ready on ${this.opts.url}`;
    } catch (err) {
      why = `${this.opts.url}: ${(err as Error).message}`;
    }
    if (this.closed) return;
    this.unavailable = why;
    this.scheduleProbe();
  }

  /** One run at maxBatch and one at 1 (the sizes the batcher uses most), each reply checked. Returns ms. */
  private async warmUp(where: string): Promise<number> {
    const t0 = performance.now();
    const input = this.inputs[0] as Uint8Array;
    input.fill(128);
    const { height: h, width: w } = this.card.input;
    for (const n of this.maxBatch > 1 ? [this.maxBatch, 1] : [1]) {
      let outputs;
      try {
        outputs = await this.client.infer(this.opts.model, this.opts.version, { name: INPUT_NAME, shape: [n, h, w, 3], data: input.subarray(0, n * this.frameBytes) }, OUTPUT_NAME, this.opts.timeoutMs);
      } catch (err) {
        const msg = `triton model ${where} failed its warm-up batch of ${n} (expected to accept [N, ${h}, ${w}, 3] UINT8 with N up to batching.maxBatch; its max_batch_size must be >= ${this.maxBatch}): ${(err as Error).message}`;
        throw new SegdError('SEGD_MODEL_INVALID', msg, [msg], { cause: err });
      }
      let mask: Uint8Array;
      try {
        mask = maskOfReply(outputs, n, this.card, where);
      } catch (err) {
        throw new SegdError('SEGD_MODEL_INVALID', (err as Error).message, [(err as Error).message]);
      }
      checkClassIds(mask, this.card, where);
    }
    return performance.now() - t0;
  }
}

/** The transport the URL's scheme names. */
function openTransport(opts: TritonTransportOptions): TritonTransport {
  return parseTritonUrl(opts.url).protocol === 'http' ? new TritonHttpClient(opts) : new TritonGrpcClient(opts);
}

/** URL/models/NAME[/versions/V] (e.g. http://host:8000/models/seg): how logs, errors and GET /api/model name a Triton model. */
export function tritonModelAddress(opts: Pick<TritonEngineOptions, 'url' | 'model' | 'version'>): string {
  return `${opts.url.replace(/\/$/, '')}/models/${opts.model}${opts.version === '' ? '' : `/versions/${opts.version}`}`;
}

/** Server live, model known and ready, card found and valid, metadata matching the contract. */
async function openModel(client: TritonTransport, opts: TritonEngineOptions, where: string): Promise<{ card: ModelCard; cardPath: string }> {
  const { model, version, timeoutMs, url } = opts;
  try {
    await client.serverLive(timeoutMs);
  } catch (err) {
    throw new SegdError('SEGD_INFERENCE_UNAVAILABLE', `triton at ${url} is unreachable (expected a KServe v2 ${client.protocol === 'http' ? 'HTTP/REST' : 'gRPC'} server there): ${(err as Error).message}`, [url], { cause: err });
  }
  const notFound = (why: string): SegdError =>
    new SegdError('SEGD_MODEL_NOT_FOUND', `triton model '${model}'${version === '' ? '' : ` version ${version}`} is not served by ${url} (expected a loaded, ready model of that name): ${why}`, [where]);
  let meta;
  try {
    meta = await client.modelMetadata(model, version, timeoutMs);
  } catch (err) {
    throw notFound((err as Error).message);
  }
  const ready = await client.modelReady(model, version, timeoutMs).catch((err: unknown) => {
    throw notFound((err as Error).message);
  });
  if (!ready) throw notFound('ModelReady says not ready');
  const found = opts.cardPath !== null ? { card: await readModelCard(opts.cardPath), cardPath: opts.cardPath } : await cardFromTriton(client, opts, where);
  checkTritonMetadata(meta, found.card, where);
  return found;
}

/** The card's JSON from the model config parameter `segd_card`. */
async function cardFromTriton(client: TritonTransport, opts: TritonEngineOptions, where: string): Promise<{ card: ModelCard; cardPath: string }> {
  const { model, version, timeoutMs } = opts;
  const cardPath = `${where} (model config parameter ${CARD_PARAMETER})`;
  let params: Record<string, string>;
  try {
    params = await client.modelParameters(model, version, timeoutMs);
  } catch (err) {
    throw new SegdError('SEGD_MODEL_CARD_INVALID', `model card ${cardPath}: the model config could not be read: ${(err as Error).message}`, [cardPath]);
  }
  const text = params[CARD_PARAMETER];
  if (text === undefined || text === '') {
    const msg = `model card ${cardPath}: missing (expected the card's JSON in the model config parameter '${CARD_PARAMETER}', or set model.card to a local card file)`;
    throw new SegdError('SEGD_MODEL_CARD_INVALID', msg, [msg]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const msg = `model card ${cardPath}: not JSON: ${(err as Error).message}`;
    throw new SegdError('SEGD_MODEL_CARD_INVALID', msg, [msg]);
  }
  return { card: validateModelCard(json, cardPath), cardPath };
}
