/**
 * Per-frame fan-out: one `publish()` per MaskResult sends its mask to every client subscribed to
 * its stream. Each encoding in use is computed once and shared; every client gets header + payload
 * as two fragments of one message (the mask itself is never copied). A client whose socket holds
 * more than `maxBufferedBytes` unsent bytes skips the frame (counted `slow_client`); nothing waits
 * for it. Clients that asked for previews get the frame's JPEG right before its mask: the JPEG
 * is encoded off the event loop, and that client's messages wait for it, in order (other clients
 * are not held up). A client whose waiting masks reach MAX_BACKLOG skips frames like a slow client.
 */
import type { Logger } from 'pino';
import { WebSocket } from 'ws';
import type { FrameAnalysis } from '../analysis/frame-analysis.js';
import type { MaskResult } from '../core/mask-result.js';
import type { ClientSession } from './client-session.js';
import { FrameMessages, type WireMessage } from './frame-messages.js';
import { MaskEncoders } from './mask-encoders.js';
import { PreviewMessages } from './preview-messages.js';
import { MAX_STREAM_ID_BYTES } from './protocol.js';
import type { PublisherHooks } from './publisher-types.js';

// ws copies send options, so one pair serves every send.
const HEADER_FRAGMENT = { binary: true, fin: false } as const;
const PAYLOAD_FRAGMENT = { binary: true, fin: true } as const;

/** Masks one client may have waiting behind its preview encodes (a few ms each) before it skips frames. */
export const MAX_BACKLOG = 16;

export interface FrameFanoutOptions {
  readonly logger: Logger;
  readonly modelIdBytes: Buffer;
  readonly maxBufferedBytes: number;
  readonly deflateLevel: number;
  /** JPEG quality of previews (undefined: the encoder's default). */
  readonly previewQuality: number | undefined;
  readonly hooks: PublisherHooks;
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

/**
 * Header and payload as two fragments of one message, issued back to back (nothing can interleave:
 * both are sync), then the frame's `class_areas` text for a client that asked for it.
 */
function sendMessage(ws: WebSocket, m: WireMessage, tracker: SendTracker | null, areas: string | null = null): void {
  ws.send(m.header, HEADER_FRAGMENT);
  if (tracker) ws.send(m.payload, PAYLOAD_FRAGMENT, tracker.done);
  else ws.send(m.payload, PAYLOAD_FRAGMENT);
  if (areas !== null) ws.send(areas);
}

/** The `class_areas` message of a frame (docs/protocol.md): pixel counts, exact. */
export function classAreasMessage(a: FrameAnalysis): string {
  const r = a.result;
  return JSON.stringify({
    type: 'class_areas',
    stream: r.streamId,
    seq: r.seq,
    captureTimeMs: r.captureTimeMs,
    pixels: a.areas.pixels,
    counts: Array.from(a.areas.counts),
    zones: a.areas.zones.map((z, j) => ({ pixels: z.pixels, counts: Array.from(z.counts), ratio: a.readings[j]?.ratio ?? 0, occupied: a.occupied[j] === true })),
  });
}

export class FrameFanout {
  private readonly sessions: ReadonlySet<ClientSession>;
  private readonly streamIdBytes = new Map<string, Buffer>();
  private readonly messages: FrameMessages;
  private readonly previews: PreviewMessages;
  private readonly maxBufferedBytes: number;
  private readonly log: Logger;
  // Hooks chosen once: a hook nobody set costs one null check per frame.
  private readonly onFrameSent: PublisherHooks['onFrameSent'] | null;
  private readonly onDrop: PublisherHooks['onDrop'] | null;
  /** Clients with previews on: 0 keeps publish() free of any preview work. */
  private previewClients = 0;

  constructor(sessions: ReadonlySet<ClientSession>, opts: FrameFanoutOptions) {
    this.sessions = sessions;
    this.maxBufferedBytes = opts.maxBufferedBytes;
    this.log = opts.logger;
    this.onFrameSent = opts.hooks.onFrameSent ?? null;
    this.onDrop = opts.hooks.onDrop ?? null;
    this.messages = new FrameMessages(new MaskEncoders(opts.deflateLevel), opts.modelIdBytes, opts.hooks.onEncoded ?? null);
    this.previews = new PreviewMessages(opts.modelIdBytes, opts.previewQuality, opts.hooks.onPreviewEncoded ?? null);
  }

  /** The model id every later mask and preview header carries (a model swap). */
  setModelId(modelIdBytes: Buffer): void {
    this.messages.modelIdBytes = modelIdBytes;
    this.previews.modelIdBytes = modelIdBytes;
  }

  /** A client turned previews on (+1) or off / left (-1). */
  previewsChanged(delta: 1 | -1): void {
    this.previewClients += delta;
  }

  /**
   * `rgb`: the frame's pixels (result.width×result.height×3), valid during this call only.
   * `analysis`: its class areas, for clients that asked for `class_areas` (serialised once, lazily).
   */
  publish(result: MaskResult, rgb: Uint8Array | null, analysis: FrameAnalysis | null = null): void {
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
    let areasText: string | null = null;
    for (const c of this.sessions) {
      if (!c.all && !c.streams.has(result.streamId)) continue;
      const ws = c.ws;
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (ws.bufferedAmount > this.maxBufferedBytes || c.backlogged >= MAX_BACKLOG) {
        if (tracker) tracker.skippedSlow++;
        if (this.onDrop) this.onDrop(result.streamId, 'slow_client');
        continue;
      }
      const m = this.messages.get(c.encoding);
      if (tracker) {
        tracker.add();
        tracker.clients++;
      }
      const preview = previewing && c.preview !== null && c.preview.rate.allow(result.streamId, nowMs) ? this.previews.get(c.preview.width) : null;
      const areas = c.areas && analysis !== null ? (areasText ??= classAreasMessage(analysis)) : null;
      if (preview === null && c.backlog === null) sendMessage(ws, m, tracker, areas);
      else this.sendAfter(c, preview, m, tracker, areas);
    }
    if (tracker) tracker.done();
  }

  /** Sends `m` (after `preview`, when there is one) once everything this client has waiting is out. */
  private sendAfter(c: ClientSession, preview: Promise<WireMessage> | null, m: WireMessage, tracker: SendTracker | null, areas: string | null): void {
    c.backlogged++;
    const link: Promise<void> = (c.backlog ?? Promise.resolve())
      .then(() => preview)
      .then(
        (p) => {
          if (p !== null && c.ws.readyState === WebSocket.OPEN) sendMessage(c.ws, p, null);
        },
        (err: unknown) => this.log.error({ err, client: c.id }, 'preview JPEG failed; the mask goes without it'),
      )
      .then(() => {
        c.backlogged--;
        if (c.backlog === link) c.backlog = null;
        if (c.ws.readyState === WebSocket.OPEN) sendMessage(c.ws, m, tracker, areas);
        else tracker?.done();
      });
    c.backlog = link;
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
}
