/**
 * Mask payload encoders (docs/protocol.md, "Payload").
 *
 * Synchronous zlib on purpose: measured here on CamVid 480×360 label masks, deflateSync at level 1
 * takes ≈ 0.25 ms per frame (≈ 7 KB out), while the async zlib path adds ≈ 1 ms of thread-pool
 * round trip per frame, can complete out of order (frames of a stream must go out in seq order), and
 * did not improve event-loop delay at 40 frames/s. Level 1 because masks are mostly long runs: level 6
 * costs 5× the time for ≈ 35 % fewer bytes.
 */
import zlib from 'node:zlib';
import type { MaskEncoding } from './protocol.js';

export const DEFAULT_DEFLATE_LEVEL = 1;

/** The zlib stream (RFC 1950) of the mask bytes; fresh memory, safe to hand to a socket. */
export function encodeDeflate(mask: Uint8Array, level: number = DEFAULT_DEFLATE_LEVEL): Buffer {
  return zlib.deflateSync(mask, { level });
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const IHDR = Buffer.from('IHDR', 'ascii');
const IDAT = Buffer.from('IDAT', 'ascii');
const IEND_CHUNK = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);
const CHUNK_OVERHEAD = 12; // length + type + crc

/**
 * Minimal PNG writer for class-id masks: 8-bit grayscale, non-interlaced, filter 0 (None) on every
 * row — measured: Sub/Up filters made mask PNGs slightly larger, and None needs no per-pixel work.
 * Holds one scratch buffer for the filtered scanlines, reused across frames (zlib reads it
 * synchronously); the PNG it returns is fresh memory.
 */
export class PngMaskEncoder {
  private scratch: Buffer = Buffer.alloc(0);
  private readonly level: number;

  constructor(level: number = DEFAULT_DEFLATE_LEVEL) {
    this.level = level;
  }

  encode(mask: Uint8Array, width: number, height: number): Buffer {
    if (mask.byteLength !== width * height) {
      throw new RangeError(`mask: ${mask.byteLength} bytes; expected width*height = ${width}*${height}`);
    }
    const stride = width + 1;
    const rawLength = stride * height;
    // Grows only when the size changes (fixed by the model in practice).
    if (this.scratch.length !== rawLength) this.scratch = Buffer.alloc(rawLength);
    const raw = this.scratch;
    for (let y = 0; y < height; y++) {
      raw[y * stride] = 0; // filter type None
      raw.set(mask.subarray(y * width, (y + 1) * width), y * stride + 1);
    }
    const idat = zlib.deflateSync(raw, { level: this.level });

    const ihdrData = 13;
    const total = PNG_SIGNATURE.length + CHUNK_OVERHEAD + ihdrData + CHUNK_OVERHEAD + idat.length + IEND_CHUNK.length;
    const png = Buffer.allocUnsafe(total);
    let o = PNG_SIGNATURE.copy(png, 0);

    // IHDR: width, height, bit depth 8, colour type 0 (grayscale), compression 0, filter 0, interlace 0.
    png.writeUInt32BE(ihdrData, o);
    IHDR.copy(png, o + 4);
    png.writeUInt32BE(width, o + 8);
    png.writeUInt32BE(height, o + 12);
    png[o + 16] = 8;
    png[o + 17] = 0;
    png[o + 18] = 0;
    png[o + 19] = 0;
    png[o + 20] = 0;
    png.writeUInt32BE(zlib.crc32(png.subarray(o + 4, o + 8 + ihdrData)), o + 8 + ihdrData);
    o += CHUNK_OVERHEAD + ihdrData;

    png.writeUInt32BE(idat.length, o);
    IDAT.copy(png, o + 4);
    idat.copy(png, o + 8);
    png.writeUInt32BE(zlib.crc32(idat, zlib.crc32(IDAT)), o + 8 + idat.length);
    o += CHUNK_OVERHEAD + idat.length;

    IEND_CHUNK.copy(png, o);
    return png;
  }
}

/**
 * One encoder set per publisher. `encode` returns a payload that stays valid after the call:
 * raw is the mask view itself (zero-copy; the engine gives every batch fresh output memory),
 * deflate/png are fresh buffers.
 */
export class MaskEncoders {
  private readonly png: PngMaskEncoder;
  private readonly level: number;

  constructor(deflateLevel: number = DEFAULT_DEFLATE_LEVEL) {
    if (!Number.isInteger(deflateLevel) || deflateLevel < 0 || deflateLevel > 9) {
      throw new RangeError(`deflateLevel: ${deflateLevel}; expected an integer 0…9`);
    }
    this.level = deflateLevel;
    this.png = new PngMaskEncoder(deflateLevel);
  }

  encode(encoding: MaskEncoding, mask: Uint8Array, width: number, height: number): Uint8Array {
    switch (encoding) {
      case 'raw':
        return mask;
      case 'deflate':
        return encodeDeflate(mask, this.level);
      case 'png':
        return this.png.encode(mask, width, height);
    }
  }
}
