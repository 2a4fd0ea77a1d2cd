/**
 * Area-average (box filter) downscaling of RGB24 images: every output pixel is the mean of the
 * source pixels it covers, so a preview does not alias the way nearest-neighbour would. The
 * source→destination index ranges and the output buffer are computed once per size pair.
 */
export class RgbDownscaler {
  readonly srcWidth: number;
  readonly srcHeight: number;
  readonly width: number;
  readonly height: number;
  /** Reused for every call: valid until the next `scale()`. */
  private readonly out: Uint8Array;
  private readonly x0: Uint16Array;
  private readonly x1: Uint16Array;
  private readonly y0: Uint16Array;
  private readonly y1: Uint16Array;
  /** Per output column: R, G, B sums of the current output row. */
  private readonly acc: Uint32Array;

  /** `width` ≤ srcWidth; the height keeps the aspect ratio (at least 1). */
  constructor(srcWidth: number, srcHeight: number, width: number) {
    if (!Number.isInteger(width) || width < 1 || width > srcWidth) {
      throw new RangeError(`RgbDownscaler: width ${width}; expected an integer 1…${srcWidth} (no upscaling)`);
    }
    this.srcWidth = srcWidth;
    this.srcHeight = srcHeight;
    this.width = width;
    this.height = Math.max(1, Math.round((srcHeight * width) / srcWidth));
    this.out = new Uint8Array(this.width * this.height * 3);
    const ranges = (src: number, dst: number): [Uint16Array, Uint16Array] => {
      const a = new Uint16Array(dst);
      const b = new Uint16Array(dst);
      for (let i = 0; i < dst; i++) {
        a[i] = Math.floor((i * src) / dst);
        b[i] = Math.max(a[i] as number, Math.floor(((i + 1) * src) / dst) - 1);
      }
      return [a, b];
    };
    [this.x0, this.x1] = ranges(srcWidth, this.width);
    [this.y0, this.y1] = ranges(srcHeight, this.height);
    this.acc = new Uint32Array(this.width * 3);
  }

  /** Scales `rgb` (srcWidth×srcHeight×3) into the reused output buffer and returns it. */
  scale(rgb: Uint8Array): Uint8Array {
    if (rgb.length < this.srcWidth * this.srcHeight * 3) {
      throw new RangeError(`RgbDownscaler.scale: ${rgb.length} bytes; expected ${this.srcWidth * this.srcHeight * 3}`);
    }
    const { width, x0, x1, y0, y1, acc, out, srcWidth } = this;
    for (let oy = 0; oy < this.height; oy++) {
      acc.fill(0);
      const ya = y0[oy] as number;
      const yb = y1[oy] as number;
      for (let y = ya; y <= yb; y++) {
        const row = y * srcWidth * 3;
        for (let ox = 0; ox < width; ox++) {
          let r = 0;
          let g = 0;
          let b = 0;
          for (let x = x0[ox] as number, p = row + x * 3; x <= (x1[ox] as number); x++, p += 3) {
            r += rgb[p] as number;
            g += rgb[p + 1] as number;
            b += rgb[p + 2] as number;
          }
          const a = ox * 3;
          acc[a] = (acc[a] as number) + r;
          acc[a + 1] = (acc[a + 1] as number) + g;
          acc[a + 2] = (acc[a + 2] as number) + b;
        }
      }
      const rows = yb - ya + 1;
      let o = oy * width * 3;
      for (let ox = 0; ox < width; ox++) {
        const n = rows * ((x1[ox] as number) - (x0[ox] as number) + 1);
        const a = ox * 3;
        out[o++] = Math.round((acc[a] as number) / n);
        out[o++] = Math.round((acc[a + 1] as number) / n);
        out[o++] = Math.round((acc[a + 2] as number) / n);
      }
    }
    return out;
  }
}
