/**
 * The protocol's machine-readable definition (docs/protocol/): the golden header vectors and the
 * control messages' JSON Schema, loaded for the server's and the TypeScript client's tests (the
 * Python client's read the same files), and an ajv validator per definition.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { REPO_ROOT } from './paths.js';

const DIR = join(REPO_ROOT, 'docs', 'protocol');

export interface ValidVector {
  readonly name: string;
  readonly message: string;
  readonly header: {
    readonly version: number;
    readonly messageType: number;
    readonly encoding: 'raw' | 'deflate' | 'png' | null;
    readonly encodingCode: number;
    readonly flags: number;
    readonly headerLength: number;
    readonly streamId: string;
    readonly modelId: string;
    readonly seq: number;
    readonly ptsMs: number | null;
    readonly captureTimeMs: number;
    readonly width: number;
    readonly height: number;
    readonly payloadLength: number;
  };
}

export interface InvalidVector {
  readonly name: string;
  readonly message: string;
  readonly field: string;
}

export const VECTORS = JSON.parse(readFileSync(join(DIR, 'mask-header-vectors.json'), 'utf8')) as { valid: ValidVector[]; invalid: InvalidVector[] };

export interface ControlSchema {
  readonly definitions: Readonly<Record<string, Record<string, unknown>>>;
}

export const CONTROL_SCHEMA = JSON.parse(readFileSync(join(DIR, 'control-messages.schema.json'), 'utf8')) as ControlSchema;

/** A validator of one definition of the control messages' schema (`client_message`, `server_message`, `request_subscribe`, …). */
export function controlValidator(definition: string): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: true });
  ajv.addKeyword({ keyword: 'expected', schemaType: 'string' }); // the server's words for its error replies
  ajv.addSchema(CONTROL_SCHEMA, 'control');
  const v = ajv.getSchema(`control#/definitions/${definition}`);
  if (v === undefined) throw new Error(`docs/protocol/control-messages.schema.json has no definition ${definition}`);
  return v;
}

export const hex = (s: string): Buffer => Buffer.from(s, 'hex');
