/**
 * WebSocket fan-out of per-frame masks (docs/protocol.md). One `publish()` per MaskResult: each
 * encoding in use is computed once and shared; every client gets header + payload as two fragments
 * of one message (the mask itself is never copied). A client whose socket holds more than
 * `maxBufferedBytes` unsent bytes skips the frame (counted `slow_client`); nothing waits for it.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { DropReason, StreamState, WsRefusal } from '../core/reasons.js';
import type { MaskResult } from '../core/mask-result.js';
import {
  errorReply,
  helloReply,
  parseControlMessage,
  type ClientRequest,
  type PreviewReply,
  type ProtocolErrorReply,
  type StreamCatalog,
  type SubscriptionReply,
} from './control-messages.js';
import { FrameMessages } from './frame-messages.js';
import { DEFAULT_DEFLATE_LEVEL, MaskEncoders } from './mask-encoders.js';
import { PreviewMessages, type PreviewObserver } from './preview-messages.js';
import { PreviewRate } from './preview-rate.js';
import { MAX_CONTROL_MESSAGE_BYTES, MAX_INCOMING_MESSAGE_BYTES, MAX_MODEL_ID_BYTES, MAX_STREAM_ID_BYTES, type MaskEncoding } from './protocol.js';

export const DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
export const DEFAULT_PING_INTERVAL_MS = 30_000;
export const DEFAULT_CLOSE_TIMEOUT_MS = 2_000;
export const DEFAULT_MAX_CLIENTS = 64;
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT = 64;
/** WebSocket close code 1013 "try again later": sent to a client over publish.maxClients. */
export const CLOSE_TRY_AGAIN_LATER = 1013;

// ws copies send options, so one pair serves every send.
const HEADER_FRAGMENT = { binary: true, fin: false } as const;
const PAYLOAD_FRAGMENT = { binary: true, fin: true } as const;

/** What `list_streams` reports for one stream (the daemon fills it; the URL is already redacted). */
export interface StreamInfo {
  readonly id: string;
  readonly state: StreamState;
  readonly url: string;
  readonly width: number;
  readonly height: number;
  readonly framesPublished?: number;
  readonly drops?: Readonly<Partial<Record<DropReason, number>>>;
}

export interface FrameSentInfo {
  /** Clients the frame was sent to. */
  readonly clients: number;
  /** Clients that skipped it for being over maxBufferedBytes. */
  readonly skippedSlow: number;
  /** publish() was called. */
  readonly publishStartNs: bigint;
  /** Every send of the frame was written to its socket (or failed because the client left). */
  readonly sentAtNs: bigint;
}

/** Metric hooks; all optional, chosen at construction. */
export interface PublisherHooks {
  /** Once per frame per encoding actually produced. */
  onEncoded?(encoding: MaskEncoding, seconds: number): void;
  /** Once per published frame, after its last send completed (at once when no client wanted it). */
  onFrameSent?(result: MaskResult, info: FrameSentInfo): void;
  /** Once per client that skipped a frame. */
  onDrop?(streamId: string, reason: Extract<DropReason, 'slow_client'>): void;
  /** After every connect / disconnect. */
  onClientCount?(count: number): void;
  /** Once per refused connection or control message. */
  onRefused?(reason: WsRefusal): void;
  /** Once per preview JPEG produced (downscale + encode time, JPEG bytes). */
  onPreviewEncoded?: PreviewObserver;
}

export interface WsPublisherOptions {
  /** The model card's `name`; goes into every mask header and `hello`. */
  readonly modelId: string;
  /** The model card object, sent as is to clients that ask (JSON-serialisable). */
  readonly modelCard: unknown;
  /** Current streams, read on connect and on control messages (never per frame). */
  readonly streams: () => readonly StreamInfo[];
  readonly logger: Logger;
  /** Config `publish.maxBufferedBytes`. */
  readonly maxBufferedBytes?: number;
  readonly deflateLevel?: number;
  /** Ping period; a client that did not answer the previous ping is dropped. 0 disables. */
  readonly pingIntervalMs?: number;
  /** How long close() waits for closing handshakes before cutting connections. */
  readonly closeTimeoutMs?: number;
  /** Config publish.maxClients: one more is told `too_many_clients` and closed with 1013. */
  readonly maxClients?: number;
  /** Config publish.maxSubscriptionsPerClient: explicit stream subscriptions one client may hold. */
  readonly maxSubscriptionsPerClient?: number;
  /** Config publish.maxMessageBytes: larger control messages get `too_large` (≤ MAX_INCOMING_MESSAGE_BYTES). */
  readonly maxMessageBytes?: number;
  readonly hooks?: PublisherHooks;
  /** JPEG quality of previews (1…100, default 75). */
  readonly previewQuality?: number;
}

interface Client {
  readonly id: number;
  readonly ws: WebSocket;
  /** True until the client first narrows its subscription. */
  all: boolean;
  streams: Set<string>;
  encoding: MaskEncoding;
  answeredPing: boolean;
  /** Preview JPEGs asked for: rate limit and width; null = none (the default). */
  preview: { readonly rate: PreviewRate; readonly width: number } | null;
}

/** Counts a frame's outstanding sends; reports once when the last one has been written. */
class SendTracker {
  private pending = 1; // held by publish() until every send is issued
  clients = 0;
  skippedSlow = 0;

  constructor(
    private readonly result: MaskResult,
    private readonly startNs: bigint,
    private readonly hook: NonNullable<PublisherHooks['onFrameSent']>,
  ) {}

  add(): void {
    this.pending++;
  }

  readonly done = (): void => {
    if (--this.pending !== 0) return;
    this.hook(this.result, {
      clients: this.clients,
      skippedSlow: this.skippedSlow,
      publishStartNs: this.startNs,
      sentAtNs: process.hrtime.bigint(),
    });
  };
}

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name}: ${v}; expected an integer >= 1`);
  return v;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class WsPublisher {
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<Client>();
  private readonly streamIdBytes = new Map<string, Buffer>();
  private readonly messages: FrameMessages;
  private readonly previews: PreviewMessages;
  /** Clients with previews on: 0 keeps publish() free of any preview work. */
  private previewClients = 0;
  private readonly maxBufferedBytes: number;
  private readonly closeTimeoutMs: number;
  private readonly modelId: string;
  private readonly modelCardReply: string;
  private readonly streamsProvider: () => readonly StreamInfo[];
  private readonly catalog: StreamCatalog;
  private readonly log: Logger;
  private readonly onFrameSent: PublisherHooks['onFrameSent'] | null;
  private readonly onDrop: PublisherHooks['onDrop'] | null;
  private readonly onClientCount: PublisherHooks['onClientCount'] | null;
  private readonly onRefused: PublisherHooks['onRefused'] | null;
  private readonly maxClients: number;
  private readonly maxSubscriptions: number;
  private readonly maxMessageBytes: number;
  /** Above this many unsent bytes a client is not reading its replies (masks stop at maxBufferedBytes). */
  private readonly slowReaderBytes: number;
  private readonly heartbeat: NodeJS.Timeout | null;
  private nextClientId = 1;
  private closePromise: Promise<void> | null = null;
  private resolveClosed: (() => void) | null = null;

  constructor(opts: WsPublisherOptions) {
    const modelIdBytes = Buffer.from(opts.modelId, 'utf8');
    if (modelIdBytes.length > MAX_MODEL_ID_BYTES) {
      throw new RangeError(`modelId: ${modelIdBytes.length} bytes of UTF-8; expected at most ${MAX_MODEL_ID_BYTES}`);
    }
    const maxBuffered = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    if (!Number.isSafeInteger(maxBuffered) || maxBuffered < 0) {
      throw new RangeError(`maxBufferedBytes: ${maxBuffered}; expected a non-negative integer`);
    }
    this.maxBufferedBytes = maxBuffered;
    this.closeTimeoutMs = opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.modelId = opts.modelId;
    this.modelCardReply = JSON.stringify({ type: 'model_card', card: opts.modelCard });
    this.streamsProvider = opts.streams;
    this.log = opts.logger;
    const hooks = opts.hooks ?? {};
    this.onFrameSent = hooks.onFrameSent ?? null;
    this.onDrop = hooks.onDrop ?? null;
    this.onClientCount = hooks.onClientCount ?? null;
    this.onRefused = hooks.onRefused ?? null;
    this.maxClients = positiveInt('maxClients', opts.maxClients ?? DEFAULT_MAX_CLIENTS);
    this.maxSubscriptions = positiveInt('maxSubscriptionsPerClient', opts.maxSubscriptionsPerClient ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT);
    this.maxMessageBytes = positiveInt('maxMessageBytes', opts.maxMessageBytes ?? MAX_CONTROL_MESSAGE_BYTES);
    if (this.maxMessageBytes > MAX_INCOMING_MESSAGE_BYTES) {
      throw new RangeError(`maxMessageBytes: ${this.maxMessageBytes}; expected at most ${MAX_INCOMING_MESSAGE_BYTES}`);
    }
    this.slowReaderBytes = Math.max(2 * maxBuffered, MAX_INCOMING_MESSAGE_BYTES);
    this.messages = new FrameMessages(
      new MaskEncoders(opts.deflateLevel ?? DEFAULT_DEFLATE_LEVEL),
      modelIdBytes,
      hooks.onEncoded ?? null,
    );
    this.previews = new PreviewMessages(modelIdBytes, opts.previewQuality, hooks.onPreviewEncoded ?? null);
    this.catalog = {
      has: (id) => this.streamsProvider().some((s) => s.id === id),
      ids: () => this.streamsProvider().map((s) => s.id),
    };
    // We compress masks ourselves (once per frame, not once per client): no permessage-deflate.
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: MAX_INCOMING_MESSAGE_BYTES,
    });
    const pingMs = opts.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
    this.heartbeat = pingMs > 0 ? setInterval(() => this.pingAll(), pingMs).unref() : null;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Hand over an HTTP upgrade whose path the HTTP server already matched (`/ws`). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closePromise) {
      socket.once('finish', () => socket.destroy());
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req));
  }

  /**
   * Sends one frame's mask to every client subscribed to its stream. Never blocks on a client.
   * `rgb`: the frame's pixels (result.width×result.height×3), valid during this call only; clients
   * that asked for previews get a JPEG of it right before the mask, when their rate limit allows.
   */
  publish(result: MaskResult, rgb: Uint8Array | null = null): void {
    if (this.closePromise) return;
    if (result.mask.byteLength !== result.width * result.height) {
      throw new RangeError(
        `MaskResult ${result.streamId}#${result.seq}: mask of ${result.mask.byteLength} bytes; expected width*height = ${result.width}*${result.height}`,
      );
    }
    const tracker = this.onFrameSent ? new SendTracker(result, process.hrtime.bigint(), this.onFrameSent) : null;
    const idBytes = this.idBytes(result.streamId);
    this.messages.reset(result, idBytes);
    const previewing = rgb !== null && this.previewClients > 0;
    const nowMs = previewing ? Date.now() : 0;
    if (previewing) this.previews.reset(result, rgb, idBytes);
    for (const c of this.clients) {
      if (!c.all && !c.streams.has(result.streamId)) continue;
      const ws = c.ws;
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (ws.bufferedAmount > this.maxBufferedBytes) {
        if (tracker) tracker.skippedSlow++;
        if (this.onDrop) this.onDrop(result.streamId, 'slow_client');
        continue;
      }
      if (previewing && c.preview !== null && c.preview.rate.allow(result.streamId, nowMs)) {
        const p = this.previews.get(c.preview.width);
        ws.send(p.header, HEADER_FRAGMENT);
        ws.send(p.payload, PAYLOAD_FRAGMENT);
      }
      const m = this.messages.get(c.encoding);
      // Two fragments of one message, issued back to back (nothing can interleave: both are sync).
      ws.send(m.header, HEADER_FRAGMENT);
      if (tracker) {
        tracker.add();
        tracker.clients++;
        ws.send(m.payload, PAYLOAD_FRAGMENT, tracker.done);
      } else {
        ws.send(m.payload, PAYLOAD_FRAGMENT);
      }
    }
    if (tracker) tracker.done();
  }

  /** Closes every client with `code` (1001 going away) and stops accepting new ones. Idempotent. */
  close(code = 1001): Promise<void> {
    if (this.closePromise) return this.closePromise;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.closePromise = new Promise<void>((resolve) => {
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        this.resolveClosed = null;
        clearTimeout(cutoff);
        this.wss.close(() => resolve());
      };
      // Clients that do not complete the closing handshake in time are cut off.
      const cutoff = setTimeout(() => {
        for (const c of this.clients) c.ws.terminate();
      }, this.closeTimeoutMs);
      cutoff.unref();
      if (this.clients.size === 0) {
        finish();
        return;
      }
      this.resolveClosed = finish;
      for (const c of this.clients) c.ws.close(code, 'going away');
    });
    return this.closePromise;
  }

  private idBytes(streamId: string): Buffer {
    let bytes = this.streamIdBytes.get(streamId);
    if (bytes === undefined) {
      bytes = Buffer.from(streamId, 'utf8');
      if (bytes.length < 1 || bytes.length > MAX_STREAM_ID_BYTES) {
        throw new RangeError(`streamId ${JSON.stringify(streamId)}: ${bytes.length} bytes; expected 1…${MAX_STREAM_ID_BYTES}`);
      }
      this.streamIdBytes.set(streamId, bytes);
    }
    return bytes;
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const client: Client = { id: this.nextClientId++, ws, all: true, streams: new Set(), encoding: 'raw', answeredPing: true, preview: null };
    const log = this.log.child({ client: client.id });
    if (this.closePromise) {
      // Upgrade completed while closing: refuse politely, then for sure.
      ws.close(1001, 'going away');
      setTimeout(() => ws.terminate(), this.closeTimeoutMs).unref();
      return;
    }
    if (this.clients.size >= this.maxClients) {
      this.refuse('too_many_clients');
      log.warn({ remote: req.socket.remoteAddress, max: this.maxClients }, 'ws client refused: publish.maxClients reached');
      ws.on('error', (err) => log.debug({ err }, 'ws client error'));
      const reply = errorReply('too_many_clients', null, `at most ${this.maxClients} clients (publish.maxClients)`, 'the server is full');
      ws.send(JSON.stringify(reply));
      ws.close(CLOSE_TRY_AGAIN_LATER, 'too many clients');
      setTimeout(() => ws.terminate(), this.closeTimeoutMs).unref();
      return;
    }
    this.clients.add(client);
    log.info({ remote: req.socket.remoteAddress, clients: this.clients.size }, 'ws client connected');
    if (this.onClientCount) this.onClientCount(this.clients.size);

    ws.on('message', (data, isBinary) => this.onMessage(client, toBuffer(data), isBinary, log));
    ws.on('pong', () => {
      client.answeredPing = true;
    });
    ws.on('error', (err) => {
      // ws closes with 1009 on its own for a message over maxPayload; count it with the other refusals.
      if ((err as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.refuse('message_too_large');
      log.debug({ err }, 'ws client error');
    });
    ws.on('close', (code) => {
      this.clients.delete(client);
      if (client.preview !== null) this.previewClients--;
      log.info({ code, clients: this.clients.size }, 'ws client disconnected');
      if (this.onClientCount) this.onClientCount(this.clients.size);
      if (this.clients.size === 0 && this.resolveClosed) this.resolveClosed();
    });

    this.sendJson(client, helloReply(this.modelId, this.catalog.ids(), client.encoding, this.maxMessageBytes));
  }

  private onMessage(client: Client, data: Buffer, isBinary: boolean, log: Logger): void {
    const req = parseControlMessage(data, isBinary, this.catalog, this.maxMessageBytes);
    if (req.type === 'error') {
      this.refuse(req.code === 'too_large' ? 'message_too_large' : 'bad_message');
      log.debug({ code: req.code, field: req.field }, 'bad control message: %s', req.message);
      this.sendJson(client, req);
      return;
    }
    try {
      this.apply(client, req);
    } catch (err) {
      // A failing stream provider must not take the connection (or the process) down.
      log.error({ err }, 'control message handling failed');
      const reply: ProtocolErrorReply = {
        type: 'error',
        code: 'internal_error',
        field: null,
        expected: 'the request to succeed',
        message: 'internal error; see the daemon log',
        request: req.type,
      };
      this.sendJson(client, reply);
    }
  }

  private apply(client: Client, req: ClientRequest): void {
    switch (req.type) {
      case 'subscribe': {
        // Checked before anything changes: a refused subscribe subscribes to none (as other errors).
        const current = client.all ? new Set<string>() : client.streams;
        const after = new Set([...current, ...req.streams]);
        if (after.size > this.maxSubscriptions) {
          this.refuse('too_many_subscriptions');
          const reply = errorReply(
            'too_many_subscriptions',
            'streams',
            `at most ${this.maxSubscriptions} subscribed streams per client (publish.maxSubscriptionsPerClient)`,
            `would subscribe to ${after.size}`,
            'subscribe',
          );
          this.sendJson(client, reply);
          return;
        }
        client.all = false;
        client.streams = after;
        this.sendJson(client, this.subscriptionOf(client));
        return;
      }
      case 'unsubscribe':
        if (client.all) {
          client.all = false;
          client.streams = new Set(this.catalog.ids());
        }
        for (const id of req.streams) client.streams.delete(id);
        this.sendJson(client, this.subscriptionOf(client));
        return;
      case 'encoding':
        client.encoding = req.encoding;
        this.sendJson(client, this.subscriptionOf(client));
        return;
      case 'list_streams':
        this.sendJson(client, { type: 'streams', streams: this.streamsProvider() });
        return;
      case 'model_card':
        this.sendText(client, this.modelCardReply);
        return;
      case 'preview': {
        if (client.preview !== null) this.previewClients--;
        // No upscaling: the width is capped at the widest stream's frames.
        const maxWidth = Math.max(0, ...this.streamsProvider().map((s) => s.width));
        const width = maxWidth > 0 ? Math.min(req.width, maxWidth) : req.width;
        client.preview = req.enabled ? { rate: new PreviewRate(req.maxFps), width } : null;
        if (client.preview !== null) this.previewClients++;
        const reply: PreviewReply = { type: 'preview', enabled: req.enabled, maxFps: req.maxFps, width };
        this.sendJson(client, reply);
        return;
      }
    }
  }

  private subscriptionOf(client: Client): SubscriptionReply {
    return {
      type: 'subscription',
      all: client.all,
      streams: client.all ? this.catalog.ids() : [...client.streams],
      encoding: client.encoding,
    };
  }

  private sendJson(client: Client, body: object): void {
    this.sendText(client, JSON.stringify(body));
  }

  /** Control replies: a client that does not read them is cut off rather than buffered for. */
  private sendText(client: Client, text: string): void {
    const ws = client.ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > this.slowReaderBytes) {
      this.refuse('slow_reader');
      this.log.warn({ client: client.id, buffered: ws.bufferedAmount }, 'ws client does not read its replies; disconnecting');
      ws.terminate();
      return;
    }
    ws.send(text);
  }

  private refuse(reason: WsRefusal): void {
    if (this.onRefused) this.onRefused(reason);
  }

  private pingAll(): void {
    for (const c of this.clients) {
      if (!c.answeredPing) {
        this.log.info({ client: c.id }, 'ws client did not answer ping; disconnecting');
        c.ws.terminate();
        continue;
      }
      c.answeredPing = false;
      c.ws.ping();
    }
  }
}
