/**
 * Reference client for segd (Node): connects, learns the model card, receives masks (raw or
 * deflate), and hands each one over decoded to class ids, with the class-area fractions helper
 * the CLI prints. Import it as a library:
 *
 *   const client = await SegdClient.connect('ws://127.0.0.1:8080/ws', { encoding: 'deflate' });
 *   client.onMask = (m) => console.log(m.streamId, m.seq, classAreaFractions(m.ids, client.classes.length));
 *
 * Decoding of the wire format is protocol-client.ts (shared with the browser viewer).
 */
import { inflateSync } from 'node:zlib';
import { WebSocket } from 'ws';
import {
  decodeMessage,
  encodeClientMessage,
  parseServerMessage,
  type ClientMessage,
  type HelloMessage,
  type MaskMessage,
  type ModelCardMessage,
  type ServerMessage,
} from './protocol-client.js';

export type ModelClass = ModelCardMessage['card']['classes'][number];

/** A mask with its payload decoded: `ids` holds width*height class ids, row-major. */
export interface DecodedMask {
  readonly streamId: string;
  readonly seq: number;
  readonly ptsMs: number | null;
  readonly captureTimeMs: number;
  readonly width: number;
  readonly height: number;
  readonly ids: Uint8Array;
}

export interface SegdClientOptions {
  /** Mask encoding to ask for: `deflate` (≈7 KB per 480×360 mask) or `raw`. Default deflate. */
  readonly encoding?: 'raw' | 'deflate';
  /** Only these streams (default: every stream). */
  readonly streams?: readonly string[];
  /** Bearer token for a daemon that requires one (sent as the Authorization header). */
  readonly token?: string;
  /** Give up connecting after this long (default 10 s). */
  readonly timeoutMs?: number;
}

/** Fraction of the mask's pixels per class id (index = id), over `numClasses` ids; sums to 1. */
export function classAreaFractions(ids: Uint8Array, numClasses: number): Float64Array {
  const counts = new Float64Array(Math.max(numClasses, 1));
  let outside = 0;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    if (id < numClasses) counts[id] = (counts[id] as number) + 1;
    else outside++;
  }
  if (outside > 0) throw new Error(`mask holds ${outside} pixels with class ids >= ${numClasses} (the model card's class count)`);
  for (let k = 0; k < counts.length; k++) counts[k] = (counts[k] as number) / (ids.length || 1);
  return counts;
}

/** One line per frame: `cam1 seq=12 road=0.3120 sky=0.2011 …` (classes with any area, largest first). */
export function formatFractions(mask: Pick<DecodedMask, 'streamId' | 'seq'>, fractions: Float64Array, classes: readonly ModelClass[]): string {
  const parts = classes
    .filter((c) => (fractions[c.id] ?? 0) > 0)
    .sort((a, b) => (fractions[b.id] ?? 0) - (fractions[a.id] ?? 0))
    .map((c) => `${c.name}=${(fractions[c.id] ?? 0).toFixed(4)}`);
  return `${mask.streamId} seq=${mask.seq} ${parts.join(' ')}`;
}

export class SegdClient {
  hello!: HelloMessage;
  /** The model card's classes (id, name, colour), known before the first mask is delivered. */
  classes: readonly ModelClass[] = [];
  /** Called for every mask, decoded. */
  onMask: (mask: DecodedMask) => void = () => {};
  /** Called for server errors and undecodable messages; the connection stays open. */
  onError: (err: Error) => void = (err) => console.error(`segd: ${err.message}`);
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(private readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })));
  }

  static connect(url: string, opts: SegdClientOptions = {}): Promise<SegdClient> {
    const headers = opts.token ? { authorization: `Bearer ${opts.token}` } : undefined;
    const ws = new WebSocket(url, headers ? { headers } : {});
    const client = new SegdClient(ws);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`segd: no hello and model card from ${url} within ${opts.timeoutMs ?? 10000} ms`)), opts.timeoutMs ?? 10000);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        ws.terminate();
        reject(err);
      };
      const onError = (err: Error): void => fail(new Error(`segd: cannot connect to ${url}: ${err.message}`));
      const onClose = (code: number): void => fail(new Error(`segd: ${url} closed the connection (${code}) before the model card`));
      ws.on('error', onError);
      ws.on('close', onClose);
      ws.on('message', (data, isBinary) => {
        const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
        try {
          if (isBinary) client.binary(buf);
          else if (client.text(parseServerMessage(buf.toString('utf8')), opts)) {
            clearTimeout(timer);
            ws.off('close', onClose);
            ws.off('error', onError);
            ws.on('error', (err) => client.onError(err));
            resolve(client);
          }
        } catch (err) {
          client.onError(err as Error);
        }
      });
    });
  }

  send(msg: ClientMessage): void {
    this.ws.send(encodeClientMessage(msg));
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close(1000);
    return this.closed;
  }

  /** Handles a text message; true once the client is ready (hello and model card seen). */
  private text(msg: ServerMessage, opts: SegdClientOptions): boolean {
    switch (msg.type) {
      case 'hello':
        this.hello = msg;
        this.send({ type: 'encoding', encoding: opts.encoding ?? 'deflate' });
        if (opts.streams) this.send({ type: 'subscribe', streams: [...opts.streams] });
        this.send({ type: 'model_card' });
        return false;
      case 'model_card':
        this.classes = msg.card.classes;
        return true;
      case 'error':
        this.onError(new Error(`server: ${msg.message}`));
        return false;
      default:
        return false;
    }
  }

  private binary(buf: Buffer): void {
    const m = decodeMessage(buf);
    if (m.kind !== 'mask' || this.classes.length === 0) return; // masks before the card: skipped
    this.onMask({
      streamId: m.streamId,
      seq: m.seq,
      ptsMs: m.ptsMs,
      captureTimeMs: m.captureTimeMs,
      width: m.width,
      height: m.height,
      ids: decodePayload(m),
    });
  }
}

function decodePayload(m: MaskMessage): Uint8Array {
  if (m.encoding === 'raw') return m.payload;
  if (m.encoding === 'deflate') return inflateSync(m.payload);
  throw new Error(`mask ${m.streamId}#${m.seq}: encoding ${m.encoding} not supported by this client (ask for raw or deflate)`);
}
