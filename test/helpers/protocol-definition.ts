/**
 * The protocol's machine-readable definition (docs/protocol/): the golden header vectors and the
 * control messages' JSON Schema, loaded for the server's and the TypeScript client's tests (the
 * Python client's read the same files), and an ajv validator per definition.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import type { MaskEncoding } from '../../clients/ts/protocol-client.js';
import type { MaskHeader } from './mask-header.js';
import { REPO_ROOT } from './paths.js';

const DIR = join(REPO_ROOT, 'docs', 'protocol');

export interface ValidVector {
  readonly name: string;
  readonly message: string;
  /** The decoded header; `encoding` is null for types that carry none, `encodingCode` is the wire's. */
  readonly header: Omit<MaskHeader, 'encoding'> & {
    readonly encoding: MaskEncoding | null;
    readonly encodingCode: number;
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
