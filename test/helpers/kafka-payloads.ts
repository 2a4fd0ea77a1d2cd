/**
 * What the Kafka tests share: the payload schemas as consumers get them (docs/kafka/*.schema.json,
 * compiled by ajv), and frames for the sink: real masks through a real StreamAnalyzer, so areas,
 * zone states and events are what the daemon would compute.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import type { FrameAnalysis } from '../../pipeline/analysis/frame-analysis.js';
import { StreamAnalyzer } from '../../pipeline/analysis/frame-analysis.js';
import type { MaskResult } from '../../pipeline/core/mask-result.js';
import type { ZoneConfig } from '../../pipeline/core/zone-config.js';
import { REPO_ROOT } from './paths.js';

export const KAFKA_SCHEMA_DIR = join(REPO_ROOT, 'docs', 'kafka');
export const KAFKA_SCHEMA_FILES = ['areas', 'zone-states', 'event', 'status-node', 'status-stream'] as const;
export type KafkaSchemaName = (typeof KAFKA_SCHEMA_FILES)[number];

/** One ajv validator per docs/kafka schema file; `check` throws naming the schema and every violation. */
export function kafkaValidators(): { readonly validate: Readonly<Record<KafkaSchemaName, ValidateFunction>>; check(name: KafkaSchemaName, payload: unknown): void } {
  const ajv = new Ajv({ allErrors: true, strict: true });
  const validate = Object.fromEntries(
    KAFKA_SCHEMA_FILES.map((n) => [n, ajv.compile(JSON.parse(readFileSync(join(KAFKA_SCHEMA_DIR, `${n}.schema.json`), 'utf8')) as object)]),
  ) as Record<KafkaSchemaName, ValidateFunction>;
  return {
    validate,
    check(name, payload) {
      const v = validate[name];
      if (!v(payload)) throw new Error(`${name}.schema.json rejects ${JSON.stringify(payload)}: ${ajv.errorsText(v.errors)}`);
    },
  };
}

export const TEST_CLASSES = ['sky', 'road', 'car'] as const;
export const TEST_W = 16;
export const TEST_H = 8;

/** A zone over the whole frame watching `car`: occupied from 50 %, clear below 40 %, at once. */
export const CAR_ZONE: ZoneConfig = { name: 'lot', polygon: [[0, 0], [1, 0], [1, 1], [0, 1]], classes: ['car'], threshold: 0.5, hysteresis: 0.1, minDurationMs: 0 };

export function maskResult(streamId: string, seq: number, carFraction: number): MaskResult {
  const mask = new Uint8Array(TEST_W * TEST_H);
  const cars = Math.round(carFraction * mask.length);
  for (let i = 0; i < mask.length; i++) mask[i] = i < cars ? 2 : i % 2;
  const t = 1_700_000_000_000 + seq * 100;
  return { streamId, seq, ptsMs: seq * 100, captureTimeMs: t, decodedAtNs: 0n, queuedAtNs: 0n, dequeuedAtNs: 0n, inferStartNs: 0n, inferEndNs: 0n, width: TEST_W, height: TEST_H, mask };
}

/** A stream's analyzer; `frame(seq)` analyses a mask whose car share alternates clear / occupied every `period` frames. */
export function testStream(id: string, period = 5): { analyzer: StreamAnalyzer; frame(seq: number): FrameAnalysis } {
  const analyzer = new StreamAnalyzer(id, TEST_W, TEST_H, TEST_CLASSES, [CAR_ZONE]);
  return { analyzer, frame: (seq) => analyzer.analyze(maskResult(id, seq, Math.floor(seq / period) % 2 === 1 ? 0.75 : 0.125)) };
}
