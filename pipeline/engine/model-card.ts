/**
 * The model card (docs/model-contract.md): read, validate, list every violation at once.
 * Extra keys are allowed and kept (the daemon forwards the card to clients as-is).
 */
import { readFile } from 'node:fs/promises';
import { SegdError } from '../core/errors.js';

export const MODEL_CARD_FORMAT = 'segd-model-card/1';

export interface ModelClass {
  readonly id: number;
  readonly name: string;
  readonly color: readonly [number, number, number];
}

/** The card's JSON as validated. Field names mirror the file (snake_case where the file uses it). */
export interface ModelCard {
  readonly format: typeof MODEL_CARD_FORMAT;
  readonly name: string;
  readonly architecture: string;
  readonly onnx: { readonly file: string; readonly opset: number; readonly sha256: string };
  readonly input: {
    readonly name: 'frames';
    readonly height: number;
    readonly width: number;
    readonly layout: 'NHWC';
    readonly dtype: 'uint8';
    readonly color: 'RGB';
  };
  readonly output: { readonly name: 'mask'; readonly layout: 'NHW'; readonly dtype: 'uint8' };
  readonly classes: readonly ModelClass[];
  /** Label id ignored in training/eval; never appears in a mask. Absent → null. */
  readonly ignore_index: number | null;
  readonly metrics: { readonly split?: string; readonly miou: number | null; readonly [k: string]: unknown };
  readonly [k: string]: unknown;
}

/** The card path the contract expects beside a model: same stem, `.json`. */
export function defaultCardPath(modelPath: string): string {
  return modelPath.replace(/\.onnx$/i, '') + '.json';
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * Checks a parsed card against the contract. Throws SEGD_MODEL_CARD_INVALID naming `cardPath`
 * with one `details` line per violation (field path, what was expected, what was found).
 */
export function validateModelCard(json: unknown, cardPath: string): ModelCard {
  const problems: string[] = [];
  const bad = (field: string, expected: string, got: unknown): void => {
    problems.push(`${field}: expected ${expected}, got ${describe(got)}`);
  };
  const str = (o: Json, key: string, path: string): void => {
    if (typeof o[key] !== 'string' || (o[key] as string).length === 0) bad(path, 'a non-empty string', o[key]);
  };
  const literal = (o: Json, key: string, path: string, want: string): void => {
    if (o[key] !== want) bad(path, JSON.stringify(want), o[key]);
  };
  const posInt = (o: Json, key: string, path: string, min: number): void => {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) bad(path, `an integer >= ${min}`, v);
  };
  const obj = (o: Json, key: string, path: string): Json | null => {
    const v = o[key];
    if (isObject(v)) return v;
    bad(path, 'an object', v);
    return null;
  };

  if (!isObject(json)) {
    throw new SegdError('SEGD_MODEL_CARD_INVALID', `model card ${cardPath} is not a JSON object`, [
      `(root): expected an object, got ${describe(json)}`,
    ]);
  }
  literal(json, 'format', 'format', MODEL_CARD_FORMAT);
  str(json, 'name', 'name');
  str(json, 'architecture', 'architecture');

  const onnx = obj(json, 'onnx', 'onnx');
  if (onnx) {
    str(onnx, 'file', 'onnx.file');
    posInt(onnx, 'opset', 'onnx.opset', 17);
    if (typeof onnx['sha256'] !== 'string' || !/^[0-9a-f]{64}$/.test(onnx['sha256'])) {
      bad('onnx.sha256', '64 lowercase hex digits', onnx['sha256']);
    }
  }

  const input = obj(json, 'input', 'input');
  if (input) {
    literal(input, 'name', 'input.name', 'frames');
    posInt(input, 'height', 'input.height', 1);
    posInt(input, 'width', 'input.width', 1);
    literal(input, 'layout', 'input.layout', 'NHWC');
    literal(input, 'dtype', 'input.dtype', 'uint8');
    literal(input, 'color', 'input.color', 'RGB');
  }

  const output = obj(json, 'output', 'output');
  if (output) {
    literal(output, 'name', 'output.name', 'mask');
    literal(output, 'layout', 'output.layout', 'NHW');
    literal(output, 'dtype', 'output.dtype', 'uint8');
  }

  const classes = json['classes'];
  // uint8 mask: at most 256 class ids.
  if (!Array.isArray(classes) || classes.length === 0 || classes.length > 256) {
    bad('classes', 'an array of 1..256 classes', classes);
  } else {
    classes.forEach((c: unknown, i) => {
      const at = `classes[${i}]`;
      if (!isObject(c)) return bad(at, 'an object {id, name, color}', c);
      if (c['id'] !== i) bad(`${at}.id`, `${i} (ids are 0..K-1 in order)`, c['id']);
      str(c, 'name', `${at}.name`);
      const color = c['color'];
      const okColor =
        Array.isArray(color) &&
        color.length === 3 &&
        color.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 255);
      if (!okColor) bad(`${at}.color`, '[r, g, b] integers 0-255', color);
    });
  }

  const ignore = json['ignore_index'];
  if (ignore !== undefined && ignore !== null && !(typeof ignore === 'number' && Number.isInteger(ignore) && ignore >= 0)) {
    bad('ignore_index', 'an integer >= 0 (or absent)', ignore);
  }

  const metrics = obj(json, 'metrics', 'metrics');
  if (metrics) {
    const miou = metrics['miou'];
    if (miou !== null && !(typeof miou === 'number' && miou >= 0 && miou <= 1)) {
      bad('metrics.miou', 'a fraction in [0, 1] or null', miou);
    }
  }

  if (problems.length > 0) {
    throw new SegdError(
      'SEGD_MODEL_CARD_INVALID',
      `model card ${cardPath} breaks the contract (docs/model-contract.md): ${problems.join('; ')}`,
      problems,
    );
  }
  return { ...json, ignore_index: (ignore as number | null | undefined) ?? null } as unknown as ModelCard;
}

/** Reads and validates a card. Missing/unreadable/non-JSON cards are SEGD_MODEL_CARD_INVALID naming the path. */
export async function readModelCard(cardPath: string): Promise<ModelCard> {
  let text: string;
  try {
    text = await readFile(cardPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const msg =
      code === 'ENOENT'
        ? `model card not found: expected ${cardPath} (a JSON file beside the model with the same stem)`
        : `model card ${cardPath} is unreadable: ${(err as Error).message}`;
    throw new SegdError('SEGD_MODEL_CARD_INVALID', msg, [msg], { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const msg = `model card ${cardPath} is not valid JSON: ${(err as Error).message}`;
    throw new SegdError('SEGD_MODEL_CARD_INVALID', msg, [msg], { cause: err });
  }
  return validateModelCard(json, cardPath);
}
