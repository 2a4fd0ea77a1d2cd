/**
 * The WebSocket publisher (docs/protocol.md): validates its options once and wires three parts —
 * ClientAdmission (upgrades, client limit, heartbeat, closing handshake), ClientSession (one per
 * client: subscriptions, encoding, previews, control messages) and FrameFanout (each frame's
 * mask, encoded once per encoding, to every subscribed client; slow clients skipped, never waited for).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { FrameAnalysis } from '../analysis/frame-analysis.js';
import type { MaskResult } from '../core/mask-result.js';
import type { StreamChange } from '../core/reasons.js';
import { ClientAdmission } from './client-admission.js';
import { ClientSession, type ServedModel, type SessionContext } from './client-session.js';
import type { StreamsUpdate } from './control-messages.js';
import { FrameFanout } from './frame-fanout.js';
import { DEFAULT_DEFLATE_LEVEL } from './mask-encoders.js';
import { MAX_CONTROL_MESSAGE_BYTES, MAX_INCOMING_MESSAGE_BYTES, MAX_MODEL_ID_BYTES } from './protocol.js';
import type { PublisherHooks, StreamInfo } from './publisher-types.js';
import type { Sink, SinkFrame, SinkModel, SinkStreamChange } from './sink.js';

export { CLOSE_TRY_AGAIN_LATER } from './client-admission.js';
export type { FrameSentInfo, PublisherHooks, StreamInfo } from './publisher-types.js';
export type { WsRefusal } from '../core/reasons.js';

export const DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
export const DEFAULT_PING_INTERVAL_MS = 30_000;
export const DEFAULT_CLOSE_TIMEOUT_MS = 2_000;
export const DEFAULT_MAX_CLIENTS = 64;
/** Half of DEFAULT_MAX_CLIENTS: one host (one local process, one LAN machine) cannot take every slot. */
export const DEFAULT_MAX_CLIENTS_PER_ADDRESS = 32;
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT = 64;

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
  /** Config publish.maxClientsPerAddress: clients from one remote address; one more is refused as over maxClients. */
  readonly maxClientsPerAddress?: number;
  /** Config publish.maxSubscriptionsPerClient: explicit stream subscriptions one client may hold. */
  readonly maxSubscriptionsPerClient?: number;
  /** Config publish.maxMessageBytes: larger control messages get `too_large` (≤ MAX_INCOMING_MESSAGE_BYTES). */
  readonly maxMessageBytes?: number;
  readonly hooks?: PublisherHooks;
  /** JPEG quality of previews (1…100, default 75). */
  readonly previewQuality?: number;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name}: ${v}; expected an integer >= 1`);
  return v;
}

function modelIdBytesOf(modelId: string): Buffer {
  const bytes = Buffer.from(modelId, 'utf8');
  if (bytes.length > MAX_MODEL_ID_BYTES) throw new RangeError(`modelId: ${bytes.length} bytes of UTF-8; expected at most ${MAX_MODEL_ID_BYTES}`);
  return bytes;
}

function servedModel(modelId: string, card: unknown): ServedModel {
  return { modelId, modelCardReply: JSON.stringify({ type: 'model_card', card }) };
}

export class WsPublisher implements Sink {
  readonly name = 'websocket';
  private readonly admission: ClientAdmission;
  private readonly fanout: FrameFanout;
  private readonly streams: () => readonly StreamInfo[];
  private model: ServedModel;

  constructor(opts: WsPublisherOptions) {
    const modelIdBytes = modelIdBytesOf(opts.modelId);
    this.model = servedModel(opts.modelId, opts.modelCard);
    this.streams = opts.streams;
    const maxBuffered = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    if (!Number.isSafeInteger(maxBuffered) || maxBuffered < 0) {
      throw new RangeError(`maxBufferedBytes: ${maxBuffered}; expected a non-negative integer`);
    }
    const maxClients = positiveInt('maxClients', opts.maxClients ?? DEFAULT_MAX_CLIENTS);
    const maxPerAddress = positiveInt('maxClientsPerAddress', opts.maxClientsPerAddress ?? DEFAULT_MAX_CLIENTS_PER_ADDRESS);
    const maxSubscriptions = positiveInt('maxSubscriptionsPerClient', opts.maxSubscriptionsPerClient ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT);
    const maxMessageBytes = positiveInt('maxMessageBytes', opts.maxMessageBytes ?? MAX_CONTROL_MESSAGE_BYTES);
    if (maxMessageBytes > MAX_INCOMING_MESSAGE_BYTES) {
      throw new RangeError(`maxMessageBytes: ${maxMessageBytes}; expected at most ${MAX_INCOMING_MESSAGE_BYTES}`);
    }
    const hooks = opts.hooks ?? {};
    const onRefused = hooks.onRefused ?? null;
    const streams = opts.streams;
    const ctx: SessionContext = {
      model: () => this.model,
      catalog: { has: (id) => streams().some((s) => s.id === id), ids: () => streams().map((s) => s.id) },
      streams,
      maxMessageBytes,
      maxSubscriptions,
      slowReaderBytes: Math.max(2 * maxBuffered, MAX_INCOMING_MESSAGE_BYTES),
      refuse: (reason) => onRefused?.(reason),
      previewsChanged: (delta) => this.fanout.previewsChanged(delta),
    };
    this.admission = new ClientAdmission({
      maxClients,
      maxClientsPerAddress: maxPerAddress,
      pingIntervalMs: opts.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
      closeTimeoutMs: opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS,
      logger: opts.logger,
      refuse: ctx.refuse,
      onClientCount: hooks.onClientCount ?? null,
      createSession: (id, ws, log) => new ClientSession(id, ws, log, ctx),
    });
    this.fanout = new FrameFanout(this.admission.sessions, {
      logger: opts.logger,
      modelIdBytes,
      maxBufferedBytes: maxBuffered,
      deflateLevel: opts.deflateLevel ?? DEFAULT_DEFLATE_LEVEL,
      previewQuality: opts.previewQuality,
      hooks,
    });
  }

  get clientCount(): number {
    return this.admission.sessions.size;
  }

  /** Hand over an HTTP upgrade whose path the HTTP server already matched (`/ws`). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.admission.handleUpgrade(req, socket, head);
  }

  /**
   * Sends one frame's mask to every client subscribed to its stream. Never blocks on a client.
   * `rgb`: the frame's pixels (result.width×result.height×3), valid during this call only; clients
   * that asked for previews get a JPEG of it right before the mask, when their rate limit allows.
   * `analysis`: the frame's class areas, sent after the mask to clients that asked (`areas`).
   */
  publish(result: MaskResult, rgb: Uint8Array | null = null, analysis: FrameAnalysis | null = null): void {
    if (this.admission.closing) return;
    this.fanout.publish(result, rgb, analysis);
  }

  /**
   * A model swap: every mask and preview published from now on carries `modelId`, `hello` and
   * `model_card` replies name the new model, and every client is sent the new card now, in order
   * behind what it has waiting, so it arrives before the first mask of the new model. Call it
   * between two publish() calls, at the switch.
   */
  setModel(modelId: string, modelCard: unknown): void {
    const bytes = modelIdBytesOf(modelId);
    this.model = servedModel(modelId, modelCard);
    this.fanout.setModelId(bytes);
    if (this.admission.closing) return;
    for (const s of this.admission.sessions) s.announce(this.model.modelCardReply);
  }

  /**
   * The stream list changed (a stream added, changed or removed at run time): every client gets a
   * `streams` message with the new list and the change; a removed stream leaves every explicit
   * subscription, so clients that asked for it only stop receiving it.
   */
  streamsChanged(change: StreamChange, ids: readonly string[]): void {
    if (this.admission.closing) return;
    const update: StreamsUpdate = { type: 'streams', streams: this.streams(), change: { [change]: ids } };
    const text = JSON.stringify(update);
    for (const s of this.admission.sessions) {
      if (change === 'removed') s.forgetStreams(ids);
      s.announce(text);
    }
  }

  // Sink (sink.ts): the frame router's calls.
  onFrame(f: SinkFrame): void {
    this.publish(f.result, f.rgb, f.analysis);
  }

  onModelChanged(m: SinkModel): void {
    this.setModel(m.id, m.card);
  }

  /** Clients hear of the stream list only: an analysis rebuilt for a new model is not a change of it. */
  onStreamChanged(c: SinkStreamChange): void {
    if (c.reason !== 'model') this.streamsChanged(c.reason, [c.streamId]);
  }

  /** Closes every client with `code` (1001 going away) and stops accepting new ones. Idempotent. */
  close(code = 1001): Promise<void> {
    return this.admission.close(code);
  }
}
