/**
 * One WebSocket client's session: what it subscribed to, the encoding and previews it asked for,
 * and its control messages (docs/protocol.md) with their replies. The fan-out reads the fields
 * directly for every frame; nothing here runs per frame.
 */
import type { Logger } from 'pino';
import { WebSocket, type RawData } from 'ws';
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
import { PREVIEW_DEFAULTS } from './control-schema.js';
import { PreviewRate } from './preview-rate.js';
import type { MaskEncoding } from './protocol.js';
import type { StreamInfo, WsRefusal } from './publisher-types.js';

/** The served model as clients see it; replaced as a whole by a model swap. */
export interface ServedModel {
  readonly modelId: string;
  /** The `model_card` reply, serialised once. */
  readonly modelCardReply: string;
}

/** What every session shares, set at the publisher's construction (`model` changes with a swap). */
export interface SessionContext {
  readonly model: () => ServedModel;
  readonly catalog: StreamCatalog;
  /** Current streams (read on control messages, never per frame). */
  readonly streams: () => readonly StreamInfo[];
  readonly maxMessageBytes: number;
  readonly maxSubscriptions: number;
  /** Above this many unsent bytes a client is not reading its replies (masks stop at maxBufferedBytes). */
  readonly slowReaderBytes: number;
  readonly refuse: (reason: WsRefusal) => void;
  /** +1 when a client turns previews on, -1 when it turns them off or leaves. */
  readonly previewsChanged: (delta: 1 | -1) => void;
}

export interface PreviewSetting {
  readonly rate: PreviewRate;
  readonly width: number;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class ClientSession {
  /** True until the client first narrows its subscription. */
  all = true;
  streams = new Set<string>();
  encoding: MaskEncoding = 'raw';
  answeredPing = true;
  /** `class_areas` messages asked for (off by default). */
  areas = false;
  /** Preview JPEGs asked for; null = none (the default). */
  preview: PreviewSetting | null = null;
  /**
   * Sends waiting behind a preview JPEG still being encoded (the fan-out keeps this client's
   * messages in order); null when nothing waits, the usual case: frames then go out at once.
   */
  backlog: Promise<void> | null = null;
  /** Masks in `backlog`. */
  backlogged = 0;

  /** `log` carries the client's id. */
  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    private readonly log: Logger,
    private readonly ctx: SessionContext,
  ) {}

  /** Reads the client's messages and pongs, and greets it with `hello`. */
  start(): void {
    this.ws.on('message', (data, isBinary) => this.onMessage(toBuffer(data), isBinary));
    this.ws.on('pong', () => {
      this.answeredPing = true;
    });
    this.sendJson(helloReply(this.ctx.model().modelId, this.ctx.catalog.ids(), this.encoding, this.ctx.maxMessageBytes));
  }

  /**
   * An unsolicited message (a stream-list update, a new model card), sent after every message
   * already waiting for this client (behind a preview encode), so it keeps its place in order:
   * a new model's card always arrives before that model's first mask.
   */
  announce(text: string): void {
    const waiting = this.backlog;
    if (waiting === null) {
      this.sendText(text);
      return;
    }
    const link: Promise<void> = waiting.then(() => {
      if (this.backlog === link) this.backlog = null;
      this.sendText(text);
    });
    this.backlog = link;
  }

  /** Streams that no longer exist leave an explicit subscription (the client gets no more of them). */
  forgetStreams(ids: readonly string[]): void {
    if (this.all) return;
    for (const id of ids) this.streams.delete(id);
  }

  /** The client has gone. */
  ended(): void {
    if (this.preview !== null) this.ctx.previewsChanged(-1);
    this.preview = null;
  }

  /** Whatever a client sends, a failure here answers (or drops) that client only, never the process. */
  private onMessage(data: Buffer, isBinary: boolean): void {
    let req: ClientRequest | ProtocolErrorReply;
    try {
      req = parseControlMessage(data, isBinary, this.ctx.catalog, this.ctx.maxMessageBytes);
    } catch (err) {
      this.log.error({ err }, 'control message could not be checked');
      this.internalError(null);
      return;
    }
    if (req.type === 'error') {
      this.ctx.refuse(req.code === 'too_large' ? 'message_too_large' : 'bad_message');
      this.log.debug({ code: req.code, field: req.field }, 'bad control message: %s', req.message);
      this.sendJson(req);
      return;
    }
    try {
      this.apply(req);
    } catch (err) {
      // A failing stream provider must not take the connection (or the process) down.
      this.log.error({ err }, 'control message handling failed');
      this.internalError(req.type);
    }
  }

  private internalError(request: ClientRequest['type'] | null): void {
    const reply: ProtocolErrorReply = {
      type: 'error',
      code: 'internal_error',
      field: null,
      expected: 'the request to succeed',
      message: 'internal error; see the daemon log',
      request,
    };
    try {
      this.sendJson(reply);
    } catch (err) {
      this.log.error({ err }, 'could not answer a ws client; disconnecting it');
      this.ws.terminate();
    }
  }

  private apply(req: ClientRequest): void {
    switch (req.type) {
      case 'subscribe': {
        // Checked before anything changes: a refused subscribe subscribes to none (as other errors).
        const current = this.all ? new Set<string>() : this.streams;
        const after = new Set([...current, ...req.streams]);
        const max = this.ctx.maxSubscriptions;
        if (after.size > max) {
          this.ctx.refuse('too_many_subscriptions');
          const reply = errorReply(
            'too_many_subscriptions',
            'streams',
            `at most ${max} subscribed streams per client (publish.maxSubscriptionsPerClient)`,
            `would subscribe to ${after.size}`,
            'subscribe',
          );
          this.sendJson(reply);
          return;
        }
        this.all = false;
        this.streams = after;
        this.sendJson(this.subscription());
        return;
      }
      case 'unsubscribe':
        if (this.all) {
          this.all = false;
          this.streams = new Set(this.ctx.catalog.ids());
        }
        for (const id of req.streams) this.streams.delete(id);
        this.sendJson(this.subscription());
        return;
      case 'encoding':
        this.encoding = req.encoding;
        this.sendJson(this.subscription());
        return;
      case 'list_streams':
        this.sendJson({ type: 'streams', streams: this.ctx.streams() });
        return;
      case 'model_card':
        this.sendText(this.ctx.model().modelCardReply);
        return;
      case 'preview': {
        if (this.preview !== null) this.ctx.previewsChanged(-1);
        // No upscaling: the width is capped at the widest stream's frames.
        const maxWidth = Math.max(0, ...this.ctx.streams().map((s) => s.width));
        // Validation filled in the defaults (useDefaults); `??` only tells the type so.
        const asked = req.width ?? PREVIEW_DEFAULTS.width;
        const maxFps = req.maxFps ?? PREVIEW_DEFAULTS.maxFps;
        const width = maxWidth > 0 ? Math.min(asked, maxWidth) : asked;
        this.preview = req.enabled ? { rate: new PreviewRate(maxFps), width } : null;
        if (this.preview !== null) this.ctx.previewsChanged(1);
        const reply: PreviewReply = { type: 'preview', enabled: req.enabled, maxFps, width };
        this.sendJson(reply);
        return;
      }
      case 'areas':
        this.areas = req.enabled;
        this.sendJson({ type: 'areas', enabled: req.enabled });
        return;
    }
  }

  private subscription(): SubscriptionReply {
    return { type: 'subscription', all: this.all, streams: this.all ? this.ctx.catalog.ids() : [...this.streams], encoding: this.encoding };
  }

  private sendJson(body: object): void {
    this.sendText(JSON.stringify(body));
  }

  /** Control replies: a client that does not read them is cut off rather than buffered for. */
  private sendText(text: string): void {
    const ws = this.ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > this.ctx.slowReaderBytes) {
      this.ctx.refuse('slow_reader');
      this.log.warn({ buffered: ws.bufferedAmount }, 'ws client does not read its replies; disconnecting');
      ws.terminate();
      return;
    }
    ws.send(text);
  }
}
