/**
 * Test harness for the publisher: a real HTTP server + WsPublisher on 127.0.0.1:0, real `ws`
 * clients with awaitable message queues, real masks (CamVid label PNGs), MaskResult builders.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { pino, type Logger } from 'pino';
import { WebSocket } from 'ws';
import {
  decodeMaskMessage,
  parseServerMessage,
  type ClientMessage,
  type HelloMessage,
  type MaskMessage,
  type ServerMessage,
} from '../../clients/ts/protocol-client.js';
import { createHttpServer, type ReadyState, type SegdHttpServer } from '../../daemon/http-server.js';
import { createMetrics, type SegdMetrics } from '../../daemon/metrics.js';
import type { MaskResult } from '../../pipeline/core/mask-result.js';
import { WsPublisher, type StreamInfo, type WsPublisherOptions } from '../../pipeline/publish/ws-publisher.js';
import { decodePng } from './png-decode.js';
import { CAMVID_DIR } from './paths.js';

export const silentLogger: Logger = pino({ level: 'silent' });

export const TEST_MODEL_CARD = {
  format: 'segd-model-card/1',
  name: 'test-model',
  architecture: 'sctnet-s',
  classes: [
    { id: 0, name: 'sky', color: [128, 128, 128] },
    { id: 1, name: 'building', color: [128, 0, 0] },
  ],
};

export function streamInfo(id: string, width = 480, height = 360): StreamInfo {
  return { id, state: 'streaming', url: `file:///videos/${id}.mp4`, width, height };
}

/** The first `n` CamVid val label masks (480×360 class ids), decoded from their PNG files. */
export function loadCamvidMasks(n: number): { masks: Uint8Array[]; width: number; height: number } {
  const dir = join(CAMVID_DIR, 'val', 'labels');
  const files = readdirSync(dir).filter((f) => f.endsWith('.png')).sort().slice(0, n);
  if (files.length < n) throw new Error(`${dir}: ${files.length} label PNGs; the test needs ${n}`);
  const decoded = files.map((f) => decodePng(readFileSync(join(dir, f))));
  const first = decoded[0];
  if (!first) throw new Error('no masks');
  return { masks: decoded.map((d) => d.pixels), width: first.width, height: first.height };
}

export function maskResult(streamId: string, seq: number, mask: Uint8Array, width: number, height: number): MaskResult {
  const now = process.hrtime.bigint();
  return {
    streamId,
    seq,
    ptsMs: seq * 100,
    captureTimeMs: Date.now(),
    decodedAtNs: now - 4_000_000n,
    queuedAtNs: now - 3_000_000n,
    dequeuedAtNs: now - 2_000_000n,
    inferStartNs: now - 1_000_000n,
    inferEndNs: now,
    width,
    height,
    mask,
  };
}

/** Awaitable FIFO; `next` rejects after `timeoutMs` (a hang guard, not a timing assertion). */
class AsyncQueue<T> {
  private readonly items: T[] = [];
  private waiter: { resolve: (v: T) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  push(item: T): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(item);
    } else {
      this.items.push(item);
    }
  }

  fail(err: Error): void {
    this.failure = err;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(err);
    }
  }

  get length(): number {
    return this.items.length;
  }

  next(what: string, timeoutMs: number): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiter = {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }
}

export interface CloseEvent {
  readonly code: number;
  readonly reason: string;
}

export class TestClient {
  readonly texts = new AsyncQueue<ServerMessage>();
  readonly masks = new AsyncQueue<MaskMessage>();
  readonly closed: Promise<CloseEvent>;
  hello!: HelloMessage;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (isBinary) this.masks.push(decodeMaskMessage(buf));
      else this.texts.push(parseServerMessage(buf.toString('utf8')));
    });
    ws.on('error', () => {
      /* surfaced through `closed` */
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        const err = new Error(`connection closed (${code})`);
        this.texts.fail(err);
        this.masks.fail(err);
        resolve({ code, reason: reason.toString('utf8') });
      });
    });
  }

  /** Connects and waits for `hello`. */
  static async connect(url: string, timeoutMs = 5000): Promise<TestClient> {
    const ws = new WebSocket(url);
    const client = new TestClient(ws);
    const first = await client.texts.next('hello', timeoutMs);
    if (first.type !== 'hello') throw new Error(`first message: ${first.type}; expected hello`);
    client.hello = first;
    return client;
  }

  send(msg: ClientMessage | string | Buffer): void {
    this.ws.send(typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg));
  }

  nextText(timeoutMs = 5000): Promise<ServerMessage> {
    return this.texts.next('a text message', timeoutMs);
  }

  nextMask(timeoutMs = 5000): Promise<MaskMessage> {
    return this.masks.next('a mask message', timeoutMs);
  }

  /** Sends a control message and returns the next text reply. */
  async request(msg: ClientMessage | string | Buffer, timeoutMs = 5000): Promise<ServerMessage> {
    this.send(msg);
    return this.nextText(timeoutMs);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.terminate();
    await this.closed;
  }
}

export interface PublishServer {
  readonly publisher: WsPublisher;
  readonly http: SegdHttpServer;
  readonly metrics: SegdMetrics;
  readonly port: number;
  readonly wsUrl: string;
  readonly httpUrl: string;
  readiness: ReadyState;
  close(): Promise<void>;
}

export async function startPublishServer(
  opts: { streams?: StreamInfo[]; publisher?: Partial<WsPublisherOptions>; metrics?: SegdMetrics } = {},
): Promise<PublishServer> {
  const streams = opts.streams ?? [streamInfo('cam1'), streamInfo('cam2')];
  const metrics = opts.metrics ?? createMetrics({ streams: streams.map((s) => s.id), maxBatch: 4, defaultMetrics: false });
  const publisher = new WsPublisher({
    modelId: TEST_MODEL_CARD.name,
    modelCard: TEST_MODEL_CARD,
    streams: () => streams,
    logger: silentLogger,
    hooks: metrics.publisherHooks(),
    pingIntervalMs: 0,
    ...opts.publisher,
  });
  const state: { readiness: ReadyState } = {
    readiness: { modelLoaded: true, modelWarmed: true, streams: streams.map((s) => ({ id: s.id, state: s.state })) },
  };
  const http = createHttpServer({ metrics, readiness: () => state.readiness, publisher, logger: silentLogger });
  const addr = await http.listen('127.0.0.1', 0);
  return {
    publisher,
    http,
    metrics,
    port: addr.port,
    wsUrl: `ws://127.0.0.1:${addr.port}/ws`,
    httpUrl: `http://127.0.0.1:${addr.port}`,
    get readiness() {
      return state.readiness;
    },
    set readiness(r: ReadyState) {
      state.readiness = r;
    },
    close: () => http.close(),
  };
}

/** A publish server that closes when the test `t` ends, pass or fail. */
export async function publishServerFor(t: TestContext, opts: Parameters<typeof startPublishServer>[0] = {}): Promise<PublishServer> {
  const srv = await startPublishServer(opts);
  t.after(() => srv.close());
  return srv;
}

/** A client of `srv` that closes when the test `t` ends. */
export async function clientFor(t: TestContext, srv: PublishServer): Promise<TestClient> {
  const c = await TestClient.connect(srv.wsUrl);
  t.after(() => c.close());
  return c;
}
