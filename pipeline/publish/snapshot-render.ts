/**
 * A snapshot's pixels: the frame with its mask blended over it (each class in its model-card
 * colour, at `opacity`) and zones outlined. Pure and allocation-free but for the output; runs in
 * the snapshot worker (snapshot-worker.ts), never on the event loop.
 */

export interface SnapshotJob {
  readonly width: number;
  readonly height: number;
  /** width × height × 3, RGB24. */
  readonly rgb: Uint8Array;
  /** width × height class ids. */
  readonly mask: Uint8Array;
  /** 3 bytes per class id (the model card's colours); ids beyond it are left unblended. */
  readonly palette: Uint8Array;
  /** 0 = the frame alone, 1 = the colours alone. */
  readonly opacity: number;
  /** Polygons in normalised coordinates (0…1), outlined. */
  readonly outlines: ReadonlyArray<ReadonlyArray<readonly [number, number]>>;
  readonly quality: number;
}

/** The outline colour: bright yellow reads on road, sky and vegetation alike. */
const OUTLINE = [255, 221, 0] as const;

export function renderSnapshot(job: SnapshotJob): Uint8Array {
  const { width: w, height: h, rgb, mask, palette } = job;
  const out = new Uint8Array(w * h * 3);
  const a = Math.round(job.opacity * 256);
  const b = 256 - a;
  const classes = palette.length / 3;
  for (let i = 0, p = 0; i < w * h; i++, p += 3) {
    const c = mask[i] as number;
    if (c < classes) {
      const q = c * 3;
      out[p] = ((rgb[p] as number) * b + (palette[q] as number) * a) >> 8;
      out[p + 1] = ((rgb[p + 1] as number) * b + (palette[q + 1] as number) * a) >> 8;
      out[p + 2] = ((rgb[p + 2] as number) * b + (palette[q + 2] as number) * a) >> 8;
    } else {
      out[p] = rgb[p] as number;
      out[p + 1] = rgb[p + 1] as number;
      out[p + 2] = rgb[p + 2] as number;
    }
  }
  // At least 2 px: a 1 px line would blur into its neighbours in the JPEG.
  const thick = Math.max(2, Math.round(Math.min(w, h) / 180));
  const dot = (x: number, y: number): void => {
    for (let dy = -thick + 1; dy < thick; dy++) {
      for (let dx = -thick + 1; dx < thick; dx++) {
        const px = x + dx;
        const py = y + dy;
        if (px < 0 || py < 0 || px >= w || py >= h) continue;
        const p = (py * w + px) * 3;
        out[p] = OUTLINE[0];
        out[p + 1] = OUTLINE[1];
        out[p + 2] = OUTLINE[2];
      }
    }
  };
  for (const poly of job.outlines) {
    for (let k = 0; k < poly.length; k++) {
      const [x0, y0] = poly[k] as readonly [number, number];
      const [x1, y1] = poly[(k + 1) % poly.length] as readonly [number, number];
      line(Math.round(x0 * (w - 1)), Math.round(y0 * (h - 1)), Math.round(x1 * (w - 1)), Math.round(y1 * (h - 1)), dot);
    }
  }
  return out;
}

/** Bresenham's line from (x0, y0) to (x1, y1), both ends included. */
function line(x0: number, y0: number, x1: number, y1: number, plot: (x: number, y: number) => void): void {
  const dx = Math.abs(x1 - x0);
  const dy = -Math.abs(y1 - y0);
  const sx = x0 < x1 ? 1 : -1;
  const sy = y0 < y1 ? 1 : -1;
  let err = dx + dy;
  for (;;) {
    plot(x0, y0);
    if (x0 === x1 && y0 === y1) return;
    const e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}
