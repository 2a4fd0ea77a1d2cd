/**
 * The body of `PUT /api/model`: which model to serve. A JSON Schema (TypeBox) validated by ajv with
 * the config's options and worded by the config's error formatter. Relative paths resolve against
 * the daemon's working directory (what a user typing `models/x.onnx` beside the daemon means; under
 * systemd its WorkingDirectory=/opt/segd), and a refusal of such a path says so.
 */
import { isAbsolute, resolve } from 'node:path';
import { Type } from '@sinclair/typebox';
import { Ajv, type ValidateFunction } from 'ajv';
import { Nullable } from '../../pipeline/core/schema-builders.js';
import { formatAjvError } from '../../pipeline/core/schema-errors.js';
import { ControlError } from '../control/control-error.js';
import type { ModelChoice } from '../control/model-swap.js';
import { problemField } from '../config/stream-input.js';

export const ModelRequestSchema = Type.Object(
  {
    /** The .onnx file (as config `model.path`). */
    path: Type.String({ minLength: 1 }),
    /** Its card; null or absent = the .json beside the model (as config `model.card`). */
    card: Nullable(Type.String({ minLength: 1, default: null })),
  },
  { additionalProperties: false },
);

let validator: ValidateFunction | null = null;

export function parseModelRequest(raw: unknown, baseDir: string): ModelChoice {
  validator ??= new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true }).compile(ModelRequestSchema);
  const data: unknown = typeof raw === 'object' && raw !== null ? structuredClone(raw) : raw;
  if (!validator(data)) {
    const problems = (validator.errors ?? []).map((e) => formatAjvError(e, { vocabulary: 'json' }));
    const first = problems[0] ?? 'invalid';
    throw new ControlError('invalid_request', problemField(first), 'an object {"path": "<model>.onnx", "card": "<card>.json" or null}', first, problems);
  }
  const body = data as { path: string; card: string | null };
  return { path: resolve(baseDir, body.path), card: body.card === null ? null : resolve(baseDir, body.card) };
}

/** A `model_rejected` for a request with a relative path, saying what it was resolved against. */
export function explainRelativePaths(err: unknown, raw: unknown, baseDir: string): unknown {
  if (!(err instanceof ControlError) || err.code !== 'model_rejected' || typeof raw !== 'object' || raw === null) return err;
  const given = [(raw as Record<string, unknown>)['path'], (raw as Record<string, unknown>)['card']];
  if (!given.some((p) => typeof p === 'string' && !isAbsolute(p))) return err;
  const note = ` (relative paths in PUT /api/model resolve against the daemon's working directory, ${baseDir})`;
  return new ControlError(err.code, err.field, err.expected, `${err.message}${note}`, err.problems, { cause: err });
}
