/**
 * Per-frame class areas: ONE pass over a mask yields the pixel count of every class in the whole
 * frame and inside every zone. The zones are rasterised once, at construction, into a region map:
 * each pixel holds the index of the set of zones it lies in (most pixels: the empty set), so the
 * pass is `hist[region << 8 | class]++` and zone counts are sums of a few region rows. Every
 * consumer (Prometheus, the WebSocket `areas` message, MQTT stats and zones) reads the result;
 * none goes over the mask again.
 */

export type Point = readonly [number, number];

export interface ZoneArea {
  /** Pixels inside the zone (fixed per stream). */
  readonly pixels: number;
  /** Pixels of each class id inside the zone. */
  readonly counts: Uint32Array;
}

export interface ClassAreas {
  /** Pixels in the frame (width × height). */
  readonly pixels: number;
  /** Pixels of each class id in the frame (length = the model's class count). */
  readonly counts: Uint32Array;
  /** One per zone, in the stream's zone order. */
  readonly zones: readonly ZoneArea[];
}

/** Class ids are bytes: a row of 256 per region keeps the hot loop free of range checks. */
const ROW = 256;
/**
 * Pixels i, i+1, i+2, i+3 count into four separate histograms, summed at the end: neighbouring
 * pixels mostly share a class, and one histogram makes every increment wait for the previous one
 * to the same cell. Measured on a 480×360 mask of long runs, idle machine: 0.115 → 0.104 ms per mask (the 4× seen
 * with training runs holding the cores does not hold on an idle machine).
 */
const LANES = 4;

/** Even-odd rule; the pixel's centre, in normalised coordinates. */
function inside(poly: readonly Point[], x: number, y: number): boolean {
  let odd = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i] as Point;
    const [xj, yj] = poly[j] as Point;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) odd = !odd;
  }
  return odd;
}

export class ClassAreaCounter {
  readonly width: number;
  readonly height: number;
  readonly numClasses: number;
  /** Per pixel, its region (set of zones); null when the stream has no zones. */
  private readonly regionMap: Uint16Array | null;
  /** Per region, the zone indices it belongs to. */
  private readonly regionZones: readonly (readonly number[])[];
  private readonly zonePixels: readonly number[];
  private readonly hist: Uint32Array;

  /** Throws RangeError naming the polygon (by index) that covers no pixel centre. */
  constructor(width: number, height: number, numClasses: number, polygons: readonly (readonly Point[])[] = []) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new RangeError(`ClassAreaCounter: ${width}x${height}; expected positive integer dimensions`);
    }
    if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > ROW) {
      throw new RangeError(`ClassAreaCounter: ${numClasses} classes; expected 1…${ROW}`);
    }
    this.width = width;
    this.height = height;
    this.numClasses = numClasses;
    if (polygons.length === 0) {
      this.regionMap = null;
      this.regionZones = [[]];
      this.zonePixels = [];
      this.hist = new Uint32Array(LANES * ROW);
      return;
    }
    const map = new Uint16Array(width * height);
    const regionOfKey = new Map<string, number>([['', 0]]);
    const regionZones: number[][] = [[]];
    const zonePixels = polygons.map(() => 0);
    const members: number[] = [];
    for (let y = 0; y < height; y++) {
      const ny = (y + 0.5) / height;
      for (let x = 0; x < width; x++) {
        const nx = (x + 0.5) / width;
        members.length = 0;
        for (let z = 0; z < polygons.length; z++) {
          if (inside(polygons[z] as readonly Point[], nx, ny)) {
            members.push(z);
            zonePixels[z]!++;
          }
        }
        if (members.length === 0) continue;
        const key = members.join(',');
        let region = regionOfKey.get(key);
        if (region === undefined) {
          region = regionZones.length;
          if (region > 0xffff) throw new RangeError('ClassAreaCounter: more than 65535 distinct zone overlaps');
          regionOfKey.set(key, region);
          regionZones.push([...members]);
        }
        map[y * width + x] = region;
      }
    }
    const empty = zonePixels.findIndex((n) => n === 0);
    if (empty >= 0) throw new RangeError(`zone ${empty}: the polygon covers no pixel centre of a ${width}x${height} mask`);
    this.regionMap = map;
    this.regionZones = regionZones;
    this.zonePixels = zonePixels;
    this.hist = new Uint32Array(LANES * regionZones.length * ROW);
  }

  /** Counts one mask (width × height class ids). The result is fresh memory: consumers may keep it. */
  count(mask: Uint8Array): ClassAreas {
    const n = this.width * this.height;
    if (mask.length !== n) throw new RangeError(`mask: ${mask.length} bytes; expected ${this.width}x${this.height} = ${n}`);
    const h = this.hist;
    h.fill(0);
    const map = this.regionMap;
    const lane = h.length / LANES; // lane l counts pixels i with i % 4 == l, at offset l * lane
    const [l1, l2, l3] = [lane, 2 * lane, 3 * lane];
    const whole = n - (n % LANES);
    if (map === null) {
      for (let i = 0; i < whole; i += LANES) {
        h[mask[i] as number]!++;
        h[l1 + (mask[i + 1] as number)]!++;
        h[l2 + (mask[i + 2] as number)]!++;
        h[l3 + (mask[i + 3] as number)]!++;
      }
      for (let i = whole; i < n; i++) h[mask[i] as number]!++;
    } else {
      for (let i = 0; i < whole; i += LANES) {
        h[((map[i] as number) << 8) | (mask[i] as number)]!++;
        h[l1 + (((map[i + 1] as number) << 8) | (mask[i + 1] as number))]!++;
        h[l2 + (((map[i + 2] as number) << 8) | (mask[i + 2] as number))]!++;
        h[l3 + (((map[i + 3] as number) << 8) | (mask[i + 3] as number))]!++;
      }
      for (let i = whole; i < n; i++) h[((map[i] as number) << 8) | (mask[i] as number)]!++;
    }
    for (let j = 0; j < lane; j++) h[j]! += (h[l1 + j] as number) + (h[l2 + j] as number) + (h[l3 + j] as number);

    const k = this.numClasses;
    const counts = new Uint32Array(k);
    const zones = this.zonePixels.map((pixels) => ({ pixels, counts: new Uint32Array(k) }));
    for (let r = 0; r < this.regionZones.length; r++) {
      const row = h.subarray(r * ROW, r * ROW + k);
      for (let c = 0; c < k; c++) counts[c]! += row[c] as number;
      for (const z of this.regionZones[r] as readonly number[]) {
        const zc = (zones[z] as ZoneArea).counts;
        for (let c = 0; c < k; c++) zc[c]! += row[c] as number;
      }
    }
    return { pixels: n, counts, zones };
  }
}

/** counts[c] / pixels for every class, exact (no rounding: consumers compare it with their own histogram). */
export function fractionsOf(counts: Uint32Array, pixels: number): number[] {
  return Array.from(counts, (c) => (pixels > 0 ? c / pixels : 0));
}
