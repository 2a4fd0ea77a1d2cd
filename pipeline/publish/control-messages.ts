/**
 * JSON control messages (docs/protocol.md, "Control messages"): validation of what clients send,
 * and the error replies naming the field and what was expected. Pure functions: the publisher
 * decides what to do with a valid request.
 */
import { ENCODINGS, MAX_CONTROL_MESSAGE_BYTES, PROTOCOL_VERSION, type MaskEncoding } from './protocol.js';

export const MAX_STREAMS_PER_REQUEST = 256;

export type ClientRequest =
  | { readonly type: 'subscribe'; readonly streams: readonly string[] }
  | { readonly type: 'unsubscribe'; readonly streams: readonly string[] }
  | { readonly type: 'encoding'; readonly encoding: MaskEncoding }
  | { readonly type: 'list_streams' }
  | { readonly type: 'model_card' }
  | PreviewRequest;

/** `preview`: downscaled JPEGs of the frames (protocol message type 2), rate-limited per client and stream. */
export interface PreviewRequest {
  readonly type: 'preview';
  readonly enabled: boolean;
  readonly maxFps: number;
  readonly width: number;
}

export const PREVIEW_DEFAULTS = { maxFps: 5, width: 240 } as const;
export const PREVIEW_MAX_FPS = 30;
export const PREVIEW_MIN_WIDTH = 16;
export const PREVIEW_MAX_WIDTH = 4096;

export type ClientRequestType = ClientRequest['type'];

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

/** Fields each request type allows; anything else is rejected (usually a typo). */
const ALLOWED_FIELDS: Readonly<Record<ClientRequestType, readonly string[]>> = {
  subscribe: ['type', 'streams'],
  unsubscribe: ['type', 'streams'],
  encoding: ['type', 'encoding'],
  list_streams: ['type'],
  model_card: ['type'],
  preview: ['type', 'enabled', 'maxFps', 'width'],
};
const REQUEST_TYPES = Object.keys(ALLOWED_FIELDS) as ClientRequestType[];

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
  const text = value === undefined ? 'undefined' : JSON.stringify(value);
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
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
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch (err) {
    return errorReply('bad_json', null, 'a JSON object', `not JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(parsed)) return errorReply('bad_message', null, 'a JSON object', `got ${show(parsed)}`);
  return validateRequest(parsed, streams);
}

function validateRequest(msg: Record<string, unknown>, streams: StreamCatalog): ClientRequest | ProtocolErrorReply {
  const typesText = `one of: ${REQUEST_TYPES.join(', ')}`;
  const type = msg.type;
  if (type === undefined) return errorReply('bad_type', 'type', `a string, ${typesText}`, 'missing');
  if (typeof type !== 'string') return errorReply('bad_type', 'type', `a string, ${typesText}`, `got ${show(type)}`);
  if (!(REQUEST_TYPES as readonly string[]).includes(type)) return errorReply('bad_type', 'type', typesText, `unknown type ${show(type)}`);
  const reqType = type as ClientRequestType;

  const allowed = ALLOWED_FIELDS[reqType];
  for (const key of Object.keys(msg)) {
    if (!allowed.includes(key)) {
      return errorReply('bad_field', key, `only the fields ${allowed.join(', ')}`, `not allowed in a ${reqType} message`, reqType);
    }
  }

  switch (reqType) {
    case 'subscribe':
    case 'unsubscribe': {
      const ids = validateStreamIds(msg.streams, reqType, streams);
      return Array.isArray(ids) ? { type: reqType, streams: ids } : ids;
    }
    case 'encoding': {
      const enc = msg.encoding;
      if (typeof enc !== 'string' || !(ENCODINGS as readonly string[]).includes(enc)) {
        const problem = enc === undefined ? 'missing' : `got ${show(enc)}`;
        return errorReply('bad_field', 'encoding', `one of: ${ENCODINGS.join(', ')}`, problem, reqType);
      }
      return { type: 'encoding', encoding: enc as MaskEncoding };
    }
    case 'list_streams':
      return { type: 'list_streams' };
    case 'model_card':
      return { type: 'model_card' };
    case 'preview':
      return validatePreview(msg);
  }
}

function validatePreview(msg: Record<string, unknown>): PreviewRequest | ProtocolErrorReply {
  const { enabled, maxFps = PREVIEW_DEFAULTS.maxFps, width = PREVIEW_DEFAULTS.width } = msg;
  if (typeof enabled !== 'boolean') {
    return errorReply('bad_field', 'enabled', 'true or false', enabled === undefined ? 'missing' : `got ${show(enabled)}`, 'preview');
  }
  if (typeof maxFps !== 'number' || !(maxFps > 0 && maxFps <= PREVIEW_MAX_FPS)) {
    return errorReply('bad_field', 'maxFps', `a number > 0 and <= ${PREVIEW_MAX_FPS}`, `got ${show(maxFps)}`, 'preview');
  }
  if (typeof width !== 'number' || !Number.isInteger(width) || width < PREVIEW_MIN_WIDTH || width > PREVIEW_MAX_WIDTH) {
    return errorReply('bad_field', 'width', `an integer ${PREVIEW_MIN_WIDTH} … ${PREVIEW_MAX_WIDTH}`, `got ${show(width)}`, 'preview');
  }
  return { type: 'preview', enabled, maxFps, width };
}

function validateStreamIds(
  value: unknown,
  reqType: 'subscribe' | 'unsubscribe',
  streams: StreamCatalog,
): string[] | ProtocolErrorReply {
  const expected = `an array of 1 to ${MAX_STREAMS_PER_REQUEST} stream ids (strings)`;
  if (value === undefined) return errorReply('bad_field', 'streams', expected, 'missing', reqType);
  if (!Array.isArray(value)) return errorReply('bad_field', 'streams', expected, `got ${show(value)}`, reqType);
  if (value.length === 0 || value.length > MAX_STREAMS_PER_REQUEST) {
    return errorReply('bad_field', 'streams', expected, `array of ${value.length}`, reqType);
  }
  const ids: string[] = [];
  for (let i = 0; i < value.length; i++) {
    const id: unknown = value[i];
    if (typeof id !== 'string') return errorReply('bad_field', `streams[${i}]`, 'a stream id (string)', `got ${show(id)}`, reqType);
    if (!streams.has(id)) {
      const known = streams.ids();
      const expectedIds = known.length === 0 ? 'a stream id (the server has none)' : `one of: ${known.join(', ')}`;
      return errorReply('unknown_stream', `streams[${i}]`, expectedIds, `unknown stream id ${show(id)}`, reqType);
    }
    ids.push(id);
  }
  return ids;
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

export interface SubscriptionReply {
  readonly type: 'subscription';
  /** True while the client receives every stream (it never narrowed its subscription). */
  readonly all: boolean;
  readonly streams: readonly string[];
  readonly encoding: MaskEncoding;
}
