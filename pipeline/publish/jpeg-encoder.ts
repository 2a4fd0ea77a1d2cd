/**
 * Preview JPEGs (baseline JFIF, 4:4:4) by sharp: libvips with mozjpeg's libjpeg-turbo, run on
 * libuv's thread pool, so an encode never blocks the event loop (ffmpeg reads, mask sends).
 * scripts/bench-jpeg.ts chose it over the hand-written encoder it replaces and over jpeg-js: less
 * CPU per encode at both preview sizes and slightly smaller files at the same PSNR (figures in
 * docs/protocol.md). The prebuilt platform package comes from the npm registry; nothing is
 * fetched at run time.
 */
import sharp, { type JpegOptions } from 'sharp';

export const DEFAULT_JPEG_QUALITY = 75;

// libvips caches operations by their arguments; every preview is a new frame, so a cache would
// only hold memory.
sharp.cache(false);

export class JpegEncoder {
  readonly quality: number;
  private readonly options: JpegOptions;

  constructor(quality = DEFAULT_JPEG_QUALITY) {
    if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new RangeError(`JpegEncoder: quality ${quality}; expected an integer 1…100`);
    this.quality = quality;
    this.options = { quality, chromaSubsampling: '4:4:4', progressive: false };
  }

  /**
   * Encodes `width`×`height` RGB24 pixels (row-major, no padding) into a fresh JFIF file. sharp
   * reads `rgb` on another thread: leave it unchanged until the promise settles. Bad arguments
   * throw here, before anything is started.
   */
  encode(rgb: Uint8Array, width: number, height: number): Promise<Buffer> {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 0xffff || height > 0xffff) {
      throw new RangeError(`JpegEncoder.encode: size ${width}x${height}; expected 1…65535 on each side`);
    }
    if (rgb.length < width * height * 3) throw new RangeError(`JpegEncoder.encode: ${rgb.length} bytes; expected ${width * height * 3} (${width}x${height} RGB)`);
    return sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg(this.options).toBuffer();
  }
}
