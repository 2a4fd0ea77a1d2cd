/**
 * The preview messages of one frame (protocol message type 2): the frame's RGB pixels downscaled
 * and JPEG-encoded at most once per frame and width, shared by every client that asked for that
 * width. Built only when some client's rate limit lets a preview through, so a daemon nobody
 * watches never encodes a JPEG. The RGB view is only valid during the publish call (it is the
 * engine's batch input buffer) and the encode runs on another thread, so the downscale happens
 * at once and the encoder gets its own copy of the pixels.
 */
import type { MaskResult } from '../core/mask-result.js';
import type { WireMessage } from './frame-messages.js';
import { JpegEncoder } from './jpeg-encoder.js';
import { MESSAGE_TYPE_PREVIEW_JPEG, PREVIEW_ENCODING_JPEG, encodeMaskHeader, maskHeaderLength } from './protocol.js';
import { RgbDownscaler } from './rgb-downscale.js';

/** Distinct (source size, width) scalers kept; clients choose widths, so the cache is bounded. */
const MAX_SCALERS = 8;

/** Per preview produced: seconds from the request to the finished JPEG (downscale, copy, encode on the thread pool), bytes. */
export type PreviewObserver = (seconds: number, bytes: number) => void;

export class PreviewMessages {
  private readonly encoder: JpegEncoder;
  private readonly scalers = new Map<string, RgbDownscaler>();
  /** This frame's messages by width. */
  private readonly built = new Map<number, Promise<WireMessage>>();
  private result: MaskResult | null = null;
  private rgb: Uint8Array = new Uint8Array(0);
  private streamIdBytes: Uint8Array = new Uint8Array(0);

  constructor(
    /** Replaced by a model swap (between frames). */
    public modelIdBytes: Uint8Array,
    quality: number | undefined,
    private readonly onEncoded: PreviewObserver | null,
  ) {
    this.encoder = new JpegEncoder(quality);
  }

  /** Starts a new frame; `rgb` is result.width×result.height×3, valid until the next reset. */
  reset(result: MaskResult, rgb: Uint8Array, streamIdBytes: Uint8Array): void {
    this.result = result;
    this.rgb = rgb;
    this.streamIdBytes = streamIdBytes;
    this.built.clear();
  }

  /** The preview at `width` (capped at the frame's width), started on first use for this frame. */
  get(width: number): Promise<WireMessage> {
    const r = this.result;
    if (r === null) throw new Error('PreviewMessages.get before reset');
    const w = Math.min(width, r.width);
    const cached = this.built.get(w);
    if (cached) return cached;

    const t0 = this.onEncoded ? process.hrtime.bigint() : 0n;
    const scaler = this.scaler(r.width, r.height, w);
    // A copy: the frame's buffer and the scaler's output are reused before the encode is done.
    const pixels = (w === r.width ? this.rgb : scaler.scale(this.rgb)).slice();
    const { width: pw, height: ph } = scaler;
    const streamId = this.streamIdBytes;
    const msg = this.encoder.encode(pixels, pw, ph).then((payload): WireMessage => {
      const header = Buffer.allocUnsafe(maskHeaderLength(streamId.byteLength, this.modelIdBytes.byteLength));
      encodeMaskHeader(header, 0, {
        messageType: MESSAGE_TYPE_PREVIEW_JPEG,
        encoding: PREVIEW_ENCODING_JPEG,
        streamId,
        modelId: this.modelIdBytes,
        seq: r.seq,
        ptsMs: r.ptsMs,
        captureTimeMs: r.captureTimeMs,
        width: pw,
        height: ph,
        payloadLength: payload.byteLength,
      });
      if (this.onEncoded) this.onEncoded(Number(process.hrtime.bigint() - t0) / 1e9, payload.byteLength);
      return { header, payload };
    });
    this.built.set(w, msg);
    return msg;
  }

  private scaler(srcW: number, srcH: number, w: number): RgbDownscaler {
    const key = `${srcW}x${srcH}>${w}`;
    let s = this.scalers.get(key);
    if (s === undefined) {
      if (this.scalers.size >= MAX_SCALERS) {
        const oldest = this.scalers.keys().next().value;
        if (oldest !== undefined) this.scalers.delete(oldest);
      }
      s = new RgbDownscaler(srcW, srcH, w);
      this.scalers.set(key, s);
    }
    return s;
  }
}
