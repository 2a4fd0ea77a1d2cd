/**
 * JSON control messages (docs/protocol.md, "Control messages"): validation of what clients send
 * against the compiled schemas of control-schema.ts, and the error replies naming the field (the
 * same `streams[1]` paths as config errors, core/schema-errors.ts) and what was expected. Pure
 * functions: the publisher decides what to do with a valid request.
 */
import type { ErrorObject } from 'ajv';
import { MAX_JSON_DEPTH, parseBoundedJson } from '../core/bounded-json.js';
import type { StreamChange } from '../core/reasons.js';
import { fieldPath } from '../core/schema-errors.js';
import {
  REQUEST_SCHEMAS,
  REQUEST_TYPES,
  controlValidators,
  type ClientRequest,
  type ClientRequestType,
} from './control-schema.js';
import { ENCODINGS, MAX_CONTROL_MESSAGE_BYTES, PROTOCOL_VERSION, type MaskEncoding } from './protocol.js';
import type { StreamInfo } from './publisher-types.js';

export {
  MAX_STREAMS_PER_REQUEST,
  PREVIEW_DEFAULTS,
  PREVIEW_MAX_FPS,
  PREVIEW_MAX_WIDTH,
  PREVIEW_MIN_WIDTH,
  type ClientRequest,
  type ClientRequestType,
  type PreviewRequest,
} from './control-schema.js';

export type ProtocolErrorCode =
  | 'not_text'
  | 'too_large'
  | 'bad_json'
  | 'bad_message'
  | 'bad_type'
  | 'bad_field'
  | 'unknown_stream'
  | 'too_many_subscriptions' // publish.maxSubscriptionsPerClient would be exceeded
  | 'too_many_clients' // publish.maxClients reached; sent once, then the connection closes (1013)
  | 'internal_error';

export interface ProtocolErrorReply {
  readonly type: 'error';
  readonly code: ProtocolErrorCode;
  /** Path of the offending field (`streams[1]`), null when the message as a whole is wrong. */
  readonly field: string | null;
  readonly expected: string;
  readonly message: string;
  /** `type` of the offending request when it had a valid one. */
  readonly request: ClientRequestType | null;
}

/** What the validator needs to know about the server's streams. */
export interface StreamCatalog {
  has(id: string): boolean;
  /** For error text: the ids a client may use. */
  ids(): readonly string[];
}

export function errorReply(
  code: ProtocolErrorCode,
  field: string | null,
  expected: string,
  problem: string,
  request: ClientRequestType | null = null,
): ProtocolErrorReply {
  const message = `${field === null ? '' : `${field}: `}${problem}; expected ${expected}`;
  return { type: 'error', code, field, expected, message, request };
}

/** JSON of a peer-supplied value for an error text, cut short so a reply never echoes a big payload. */
function show(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? 'undefined' : JSON.stringify(value);
  } catch {
    text = Array.isArray(value) ? 'an array' : typeof value; // unreachable below MAX_JSON_DEPTH; never throw from an error path
  }
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}

/**
 * Validates one incoming WebSocket message. Returns the request, or the `error` reply to send.
 * `data` is the raw message as `ws` delivers it; binary and oversized messages are refused before
 * any parsing.
 */
export function parseControlMessage(
  data: Buffer,
  isBinary: boolean,
  streams: StreamCatalog,
  maxBytes: number = MAX_CONTROL_MESSAGE_BYTES,
): ClientRequest | ProtocolErrorReply {
  if (isBinary) return errorReply('not_text', null, 'a JSON text message', 'binary message');
  if (data.length > maxBytes) {
    return errorReply('too_large', null, `at most ${maxBytes} bytes`, `message of ${data.length} bytes`);
  }
  // Depth first: a `[[[[…` message must not reach anything that recurses (show(), ajv).
  const json = parseBoundedJson(data.toString('utf8'), MAX_JSON_DEPTH);
  if (!json.ok) return errorReply('bad_json', null, `a JSON object nested at most ${MAX_JSON_DEPTH} levels`, `not JSON: ${json.problem}`);
  const parsed = json.value;
  const { envelope, requests } = controlValidators();
  if (!envelope(parsed)) return envelopeError(firstError(envelope.errors, ['type']));
  const type = (parsed as { type: ClientRequestType }).type;
  const validate = requests[type];
  if (!validate(parsed)) {
    const fields = Object.keys(REQUEST_SCHEMAS[type].properties);
    return requestError(type, firstError(validate.errors, fields), parsed as Record<string, unknown>, streams);
  }
  return request(parsed as ClientRequest, streams);
}

/** A valid request as a fresh object (fields in protocol order), once its stream ids are known to the server. */
function request(req: ClientRequest, streams: StreamCatalog): ClientRequest | ProtocolErrorReply {
  switch (req.type) {
    case 'subscribe':
    case 'unsubscribe':
      return unknownStream(req.streams, req.streams.length, req.type, streams) ?? { type: req.type, streams: req.streams };
    case 'encoding':
      return { type: 'encoding', encoding: req.encoding };
    case 'list_streams':
    case 'model_card':
      return { type: req.type };
    case 'preview':
      return { type: 'preview', enabled: req.enabled, maxFps: req.maxFps, width: req.width };
    case 'areas':
      return { type: 'areas', enabled: req.enabled };
  }
}

/**
 * The violation to report when there are several (ajv runs with allErrors): the one the protocol
 * has always named first - the message's shape, then an unknown field, then the fields in their
 * documented order (`fields`), a field as a whole before its items, items in order.
 */
function firstError(errors: readonly ErrorObject[] | null | undefined, fields: readonly string[]): ErrorObject {
  const rank = (e: ErrorObject): readonly [number, number, number] => {
    if (e.instancePath === '' && e.keyword === 'type') return [0, 0, 0];
    if (e.keyword === 'additionalProperties') return [1, 0, 0];
    const required = e.keyword === 'required';
    const path = e.instancePath.split('/');
    const field = required ? String((e.params as { missingProperty?: unknown }).missingProperty) : (path[1] ?? '');
    const at = fields.indexOf(field);
    return [2, at < 0 ? fields.length : at, required ? 0 : path.length];
  };
  const before = (a: readonly number[], b: readonly number[]): boolean => {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return (a[i] as number) < (b[i] as number);
    return false; // equal: keep the one ajv reported first
  };
  let best: ErrorObject | undefined;
  for (const e of errors ?? []) if (best === undefined || before(rank(e), rank(best))) best = e;
  if (best === undefined) throw new Error('control-messages: validation failed without an error');
  return best;
}

/** Problems with the message as a whole or with its `type`. */
function envelopeError(e: ErrorObject): ProtocolErrorReply {
  const typesText = `one of: ${REQUEST_TYPES.join(', ')}`;
  if (e.instancePath === '' && e.keyword === 'type') return errorReply('bad_message', null, 'a JSON object', `got ${show(e.data)}`);
  if (e.keyword === 'required') return errorReply('bad_type', 'type', `a string, ${typesText}`, 'missing');
  if (e.keyword === 'enum') return errorReply('bad_type', 'type', typesText, `unknown type ${show(e.data)}`);
  return errorReply('bad_type', 'type', `a string, ${typesText}`, `got ${show(e.data)}`);
}

/** A field of a request that is missing, not allowed, or wrong; the field's schema says what it expects. */
function requestError(type: ClientRequestType, e: ErrorObject, msg: Record<string, unknown>, streams: StreamCatalog): ProtocolErrorReply {
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') {
    const allowed = Object.keys(REQUEST_SCHEMAS[type].properties);
    return errorReply('bad_field', String(p['additionalProperty']), `only the fields ${allowed.join(', ')}`, `not allowed in a ${type} message`, type);
  }
  if (e.keyword === 'required') {
    const name = String(p['missingProperty']);
    const schema = (REQUEST_SCHEMAS[type].properties as Record<string, { expected?: string }>)[name];
    return errorReply('bad_field', fieldPath(e.instancePath, name), schema?.expected ?? 'a value', 'missing', type);
  }
  // An earlier item naming an unknown stream is reported before a later item of the wrong type.
  const item = /^\/streams\/(\d+)$/.exec(e.instancePath);
  if (item && Array.isArray(msg['streams']) && (type === 'subscribe' || type === 'unsubscribe')) {
    const before = unknownStream(msg['streams'] as unknown[], Number(item[1]), type, streams);
    if (before) return before;
  }
  const expected = String((e.parentSchema as { expected?: unknown } | undefined)?.expected ?? e.message ?? e.keyword);
  const problem = e.keyword === 'minItems' || e.keyword === 'maxItems' ? `array of ${(e.data as unknown[]).length}` : `got ${show(e.data)}`;
  return errorReply('bad_field', fieldPath(e.instancePath), expected, problem, type);
}

/** The first of `ids[0 … end)` the server does not have, as an `unknown_stream` reply; null when all are known. */
function unknownStream(ids: readonly unknown[], end: number, type: 'subscribe' | 'unsubscribe', streams: StreamCatalog): ProtocolErrorReply | null {
  for (let i = 0; i < end; i++) {
    const id = ids[i];
    if (typeof id === 'string' && !streams.has(id)) {
      const known = streams.ids();
      const expected = known.length === 0 ? 'a stream id (the server has none)' : `one of: ${known.join(', ')}`;
      return errorReply('unknown_stream', `streams[${i}]`, expected, `unknown stream id ${show(id)}`, type);
    }
  }
  return null;
}

// ---- server → client replies (JSON text) ----

export interface HelloReply {
  readonly type: 'hello';
  readonly protocol: number;
  readonly model: string;
  readonly streams: readonly string[];
  readonly encodings: readonly MaskEncoding[];
  readonly encoding: MaskEncoding;
  readonly maxControlMessageBytes: number;
}

export function helloReply(
  model: string,
  streamIds: readonly string[],
  encoding: MaskEncoding,
  maxControlMessageBytes: number = MAX_CONTROL_MESSAGE_BYTES,
): HelloReply {
  return {
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    model,
    streams: streamIds,
    encodings: ENCODINGS,
    encoding,
    maxControlMessageBytes,
  };
}

/** The client's preview settings after a `preview` request (`width` capped at the frames' width). */
export interface PreviewReply {
  readonly type: 'preview';
  readonly enabled: boolean;
  readonly maxFps: number;
  readonly width: number;
}

/**
 * Sent unsolicited to every client when the stream list changes at run time (a protocol v1
 * addition): the `streams` reply plus `change`, which names the streams added, changed or removed.
 */
export interface StreamsUpdate {
  readonly type: 'streams';
  readonly streams: readonly StreamInfo[];
  readonly change: Readonly<Partial<Record<StreamChange, readonly string[]>>>;
}

export interface SubscriptionReply {
  readonly type: 'subscription';
  /** True while the client receives every stream (it never narrowed its subscription). */
  readonly all: boolean;
  readonly streams: readonly string[];
  readonly encoding: MaskEncoding;
}
