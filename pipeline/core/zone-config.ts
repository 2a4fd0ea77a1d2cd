/**
 * A zone: a named polygon of one stream's frame, in normalised coordinates (0…1, x right, y down),
 * with the classes whose pixels count as "occupied" and the hysteresis that turns the per-frame
 * occupancy ratio into enter / exit (analysis/zone-tracker.ts). Part of the stream's config schema
 * (`streams[].zones`); the checks JSON Schema cannot express are in `zoneProblems`.
 */
import { Type, type Static } from '@sinclair/typebox';

/** Zone names end up in MQTT topics and metric labels: keep them plain. */
export const ZONE_NAME_PATTERN = '^[A-Za-z0-9_-]{1,64}$';
export const MAX_ZONES_PER_STREAM = 16;
export const MAX_POLYGON_POINTS = 64;

const Point = Type.Array(Type.Number({ minimum: 0, maximum: 1 }), { minItems: 2, maxItems: 2 });

export const ZoneConfigSchema = Type.Object(
  {
    name: Type.String({ pattern: ZONE_NAME_PATTERN }),
    /** [[x, y], …], at least 3 points, 0…1 of the frame's width and height; closed implicitly. */
    polygon: Type.Array(Point, { minItems: 3, maxItems: MAX_POLYGON_POINTS }),
    /** Class names (the model card's) whose pixels occupy the zone. */
    classes: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 64, uniqueItems: true }),
    /** Occupied once the classes cover at least this fraction of the zone's pixels. */
    threshold: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.1 }),
    /** Clear again only below threshold - hysteresis (so a ratio hovering at the threshold does not flap). */
    hysteresis: Type.Number({ minimum: 0, maximum: 1, default: 0.05 }),
    /** A change of state must hold this long (capture time) before it is reported. */
    minDurationMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 1000 }),
  },
  { additionalProperties: false },
);

export type ZoneConfig = Readonly<Static<typeof ZoneConfigSchema>>;

type Pt = readonly [number, number];

/** Twice the signed area of a polygon (shoelace). */
function doubleArea(points: readonly Pt[]): number {
  let a = 0;
  for (let i = 0; i < points.length; i++) {
    const [x0, y0] = points[i] as Pt;
    const [x1, y1] = points[(i + 1) % points.length] as Pt;
    a += x0 * y1 - x1 * y0;
  }
  return a;
}

/**
 * Problems of one stream's zones that the schema cannot see, each naming the stream, the zone and
 * the field. Runs on unvalidated data (reported together with schema violations): anything not
 * shaped as expected is left to the schema.
 */
export function zoneProblems(streamId: string, zones: unknown, streamPath: string): string[] {
  if (!Array.isArray(zones)) return [];
  const problems: string[] = [];
  const firstOfName = new Map<string, number>();
  zones.forEach((z: unknown, j: number) => {
    if (typeof z !== 'object' || z === null || Array.isArray(z)) return;
    const zone = z as Record<string, unknown>;
    const name = typeof zone['name'] === 'string' ? zone['name'] : `#${j}`;
    const at = (field: string): string => `${streamPath === '' ? '' : `${streamPath}.`}zones[${j}].${field} (stream "${streamId}", zone "${name}")`;
    if (typeof zone['name'] === 'string') {
      const first = firstOfName.get(zone['name']);
      if (first === undefined) firstOfName.set(zone['name'], j);
      else problems.push(`${at('name')}: expected a name unique within the stream, already used by zones[${first}]`);
    }
    const threshold = typeof zone['threshold'] === 'number' ? zone['threshold'] : 0.1;
    const hysteresis = typeof zone['hysteresis'] === 'number' ? zone['hysteresis'] : 0.05;
    if (hysteresis >= threshold) {
      problems.push(`${at('hysteresis')}: expected less than threshold (${threshold}), got ${hysteresis}: the zone could never clear`);
    }
    const poly = zone['polygon'];
    if (Array.isArray(poly) && poly.length >= 3 && poly.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => typeof v === 'number'))) {
      if (Math.abs(doubleArea(poly as Pt[])) < 1e-9) problems.push(`${at('polygon')}: expected a polygon with an area, got points on one line`);
    }
  });
  return problems;
}
