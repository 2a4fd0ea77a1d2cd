/**
 * The wire messages of one frame, built lazily: each encoding is computed at most once per frame
 * and shared by every client that asked for it; encodings nobody asked for cost nothing.
 */
import type { MaskResult } from '../core/mask-result.js';
import type { MaskEncoders } from './mask-encoders.js';
import { ENCODINGS, ENCODING_CODE, encodeMaskHeader, maskHeaderLength, type MaskEncoding } from './protocol.js';

/** The header of `r`'s mask message in encoding `code` (docs/protocol.md), in a fresh buffer. */
export function maskHeaderOf(r: MaskResult, code: number, streamId: Uint8Array, modelId: Uint8Array, payloadLength: number): Buffer {
  const header = Buffer.allocUnsafe(maskHeaderLength(streamId.byteLength, modelId.byteLength));
  encodeMaskHeader(header, 0, {
    encoding: code,
    streamId,
    modelId,
    seq: r.seq,
    ptsMs: r.ptsMs,
    captureTimeMs: r.captureTimeMs,
    width: r.width,
    height: r.height,
    payloadLength,
  });
  return header;
}

export interface WireMessage {
  /**
   * Fresh per frame and encoding, never a reused buffer: a slow client's socket may hold it (and
   * the payload) for many frames before writing it out.
   */
  readonly header: Buffer;
  readonly payload: Uint8Array;
}

export type EncodeObserver = (encoding: MaskEncoding, seconds: number) => void;

export class FrameMessages {
  private readonly slots: (WireMessage | null)[] = ENCODINGS.map(() => null);
  private result: MaskResult | null = null;
  private streamIdBytes: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly encoders: MaskEncoders,
    /** Replaced by a model swap (between frames). */
    public modelIdBytes: Uint8Array,
    private readonly onEncoded: EncodeObserver | null,
  ) {}

  /** Starts a new frame; drops the previous frame's messages (sockets keep their own references). */
  reset(result: MaskResult, streamIdBytes: Uint8Array): void {
    this.result = result;
    this.streamIdBytes = streamIdBytes;
    this.slots.fill(null);
  }

  get(encoding: MaskEncoding): WireMessage {
    const code = ENCODING_CODE[encoding];
    const cached = this.slots[code];
    if (cached) return cached;
    const r = this.result;
    if (r === null) throw new Error('FrameMessages.get before reset');

    const t0 = this.onEncoded ? process.hrtime.bigint() : 0n;
    const payload = this.encoders.encode(encoding, r.mask, r.width, r.height);
    const header = maskHeaderOf(r, code, this.streamIdBytes, this.modelIdBytes, payload.byteLength);
    if (this.onEncoded) this.onEncoded(encoding, Number(process.hrtime.bigint() - t0) / 1e9);

    const msg: WireMessage = { header, payload };
    this.slots[code] = msg;
    return msg;
  }
}
