/**
 * One camera/stream: its JSON Schema (the `streams[]` items of the config file, validated by
 * daemon/config with ajv, defaults applied) and the type derived from it.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Nullable, StringEnum } from './schema-builders.js';
import { MAX_ZONES_PER_STREAM, ZoneConfigSchema } from './zone-config.js';

/** Ids end up in metric labels, log fields and the wire protocol: keep them plain. */
export const STREAM_ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$';

/** Slowest rate a stream may be given: one frame per 10 s. */
export const MIN_FPS = 0.1;

export const StreamConfigSchema = Type.Object(
  {
    /** Unique id, [A-Za-z0-9_-]{1,64}: used in logs, metric labels and the WebSocket protocol. */
    id: Type.String({ pattern: STREAM_ID_PATTERN }),
    /**
     * Source URL. Schemes: file:// (or a plain path), rtsp://, rtsps://, http://, https:// (incl. HLS
     * .m3u8), v4l2:///dev/videoN. May carry credentials (rtsp://user:pass@host/...): redact before
     * logging (core/redact.ts).
     */
    url: Type.String({ minLength: 1 }),
    /** file: restart from the beginning at EOF. */
    loop: Type.Boolean({ default: true }),
    /**
     * file: pace at native frame rate (ffmpeg -re); false = no clock of its own, paced by the
     * pipeline (backpressure, sources/pacing.ts).
     */
    realtime: Type.Boolean({ default: true }),
    /** rtsp: transport. */
    rtspTransport: StringEnum(['tcp', 'udp'], { default: 'tcp' }),
    /** Expected frames/s; scales the stall watchdog. At least a frame every 10 s (MIN_FPS). */
    expectedFps: Type.Number({ minimum: MIN_FPS, maximum: 240, default: 10 }),
    /** Optional output rate cap (ffmpeg fps filter); null = native rate. 1e-300 would starve the watchdog: MIN_FPS. */
    maxFps: Nullable(Type.Number({ minimum: MIN_FPS, maximum: 240, default: null })),
    /** Newest-wins queue depth between decode and the batcher. */
    queueDepth: Type.Integer({ minimum: 1, maximum: 16, default: 1 }),
    /** Named polygons whose occupancy is tracked (core/zone-config.ts); names unique per stream. */
    zones: Type.Array(ZoneConfigSchema, { maxItems: MAX_ZONES_PER_STREAM, default: [] }),
  },
  { additionalProperties: false },
);

/** A stream as validated, every default applied. */
export type StreamConfig = Readonly<Static<typeof StreamConfigSchema>>;
