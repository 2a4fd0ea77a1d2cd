/**
 * The model card (docs/model-contract.md): read, validate against models/model-card.schema.json
 * (the one contract that training/segd_train/export/card.py writes and its tests check), and
 * list every violation at once. Extra keys are allowed and kept (the daemon forwards the card to
 * clients as-is).
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type SchemaObject, type ValidateFunction } from 'ajv';
import { MAX_JSON_DEPTH, parseBoundedJson } from '../core/bounded-json.js';
import { SegdError } from '../core/errors.js';
import { MAX_CARD_FILE_BYTES, readProblem, readRegularFileAsync } from '../core/read-file.js';
import { describeValue, fieldPath, formatAjvError } from '../core/schema-errors.js';

export const MODEL_CARD_FORMAT = 'segd-model-card/1';

/** models/ of the package (this module runs from dist/pipeline/engine/); models/ ships with the build. */
export const MODEL_CARD_SCHEMA_PATH = new URL('../../../models/model-card.schema.json', import.meta.url);

export interface ModelClass {
  readonly id: number;
  readonly name: string;
  readonly color: readonly [number, number, number];
}

/**
 * The card as the daemon reads it (the required part of the schema; field names mirror the file,
 * snake_case where it uses it). The schema is the contract: keep this in step with it.
 */
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

let validator: ValidateFunction | null = null;

function getValidator(): ValidateFunction {
  // allErrors: every violation in one pass; verbose: errors carry the offending value; union types
  // (["number", "null"]) are plain JSON Schema, which Python's jsonschema reads too.
  validator ??= new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true }).compile(
    JSON.parse(readFileSync(MODEL_CARD_SCHEMA_PATH, 'utf8')) as SchemaObject,
  );
  return validator;
}

/** The one rule JSON Schema cannot state: class ids are 0..K-1 in list order. */
function classIdProblems(json: unknown, schemaErrors: readonly ErrorObject[]): string[] {
  const classes = (json as { classes?: unknown }).classes;
  if (!Array.isArray(classes)) return [];
  const problems: string[] = [];
  classes.forEach((c: unknown, i) => {
    const id = typeof c === 'object' && c !== null ? (c as { id?: unknown }).id : undefined;
    const at = `/classes/${i}/id`;
    if (typeof id === 'number' && id !== i && !schemaErrors.some((e) => e.instancePath === at)) {
      problems.push(`${fieldPath(at)}: expected ${i} (ids are 0..K-1 in order), got ${describeValue(id, 'json')}`);
    }
  });
  return problems;
}

/**
 * Checks a parsed card against the contract. Throws SEGD_MODEL_CARD_INVALID naming `cardPath`
 * with one `details` line per violation (field path, what was expected, what was found).
 */
export function validateModelCard(json: unknown, cardPath: string): ModelCard {
  const validate = getValidator();
  const errors = validate(json) ? [] : (validate.errors ?? []);
  const problems = [
    ...errors.map((e) => formatAjvError(e, { vocabulary: 'json', scalarItemsOnArray: true })),
    ...classIdProblems(json, errors),
  ];
  if (problems.length > 0) {
    throw new SegdError(
      'SEGD_MODEL_CARD_INVALID',
      `model card ${cardPath} breaks the contract (docs/model-contract.md): ${problems.join('; ')}`,
      problems,
    );
  }
  const card = json as ModelCard;
  return { ...card, ignore_index: card.ignore_index ?? null };
}

/**
 * Reads and validates a card. Missing/unreadable/non-JSON cards are SEGD_MODEL_CARD_INVALID naming
 * the path and what was expected, never quoting the file (it may not be a card at all: /etc/passwd).
 * Regular files of at most MAX_CARD_FILE_BYTES only, read within FILE_READ_TIMEOUT_MS.
 */
export async function readModelCard(cardPath: string): Promise<ModelCard> {
  let text: string;
  try {
    text = (await readRegularFileAsync(cardPath, MAX_CARD_FILE_BYTES)).toString('utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const msg =
      e.code === 'ENOENT'
        ? `model card not found: expected ${cardPath} (a JSON file beside the model with the same stem)`
        : `model card ${cardPath} is unreadable: ${readProblem(err)}`;
    throw new SegdError('SEGD_MODEL_CARD_INVALID', msg, [msg], { cause: err });
  }
  const json = parseBoundedJson(text, MAX_JSON_DEPTH);
  if (!json.ok) {
    const msg = `model card ${cardPath} is not a JSON model card (${json.problem}); expected a JSON object (docs/model-contract.md)`;
    throw new SegdError('SEGD_MODEL_CARD_INVALID', msg, [msg]);
  }
  return validateModelCard(json.value, cardPath);
}
