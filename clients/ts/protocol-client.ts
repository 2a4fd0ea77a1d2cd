/**
 * Typed decoder for the segd WebSocket protocol, version 1 (docs/protocol.md), and the one
 * definition of its wire constants in TypeScript: the server's encoder (pipeline/publish/protocol.ts)
 * imports them from here. Checked against the language-neutral definition in docs/protocol/ (golden
 * header vectors, the control messages' JSON Schema) by the server's, this client's and the Python
 * client's tests. No Node APIs (DataView, TextDecoder only), so it runs in browsers too: the
 * daemon's viewer page (daemon/viewer/viewer.js) imports this file's compiled output as is.
 * Payload decompression is left to the caller (deflate: DecompressionStream('deflate') or
 * zlib.inflateSync; png: any PNG decoder, the grey values are the class ids).
 */

export const PROTOCOL_VERSION = 1;
/** 'SEGD' in ASCII, the first four bytes of every binary message. */
export const MAGIC_BYTES: readonly number[] = [0x53, 0x45, 0x47, 0x44];
export const HEADER_FIXED_BYTES = 48;
export const MAX_STREAM_ID_BYTES = 255;
export const MAX_MODEL_ID_BYTES = 1024;
export const MESSAGE_TYPE_MASK = 1;
/** A downscaled JPEG of the frame a mask belongs to, sent only to clients that asked (`preview`). */
export const MESSAGE_TYPE_PREVIEW_JPEG = 2;
/** Encoding byte of a preview message: the payload is a baseline JPEG (JFIF) file. */
export const PREVIEW_ENCODING_JPEG = 3;

export type MaskEncoding = 'raw' | 'deflate' | 'png';
/** In code order: ENCODINGS[code] is the name. */
export const ENCODINGS: readonly MaskEncoding[] = ['raw', 'deflate', 'png'];

/** A binary message that is not a valid version-1 message; the text names the field and what was expected. */
export class ProtocolDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolDecodeError';
  }
}

export type StreamState = 'connecting' | 'streaming' | 'stalled' | 'backoff' | 'stopped';

export interface MaskMessage {
  readonly kind: 'mask';
  readonly version: number;
  /** 1 = mask. */
  readonly messageType: number;
  readonly encoding: MaskEncoding;
  readonly flags: number;
  readonly streamId: string;
  readonly modelId: string;
  readonly seq: number;
  /** null when the stream did not report one (NaN on the wire). */
  readonly ptsMs: number | null;
  readonly captureTimeMs: number;
  readonly width: number;
  readonly height: number;
  /** A view into the message: raw class ids, a zlib stream or a PNG, per `encoding`. */
  readonly payload: Uint8Array;
}

/** A downscaled JPEG of the frame whose mask (same stream and seq) follows it. */
export interface PreviewMessage {
  readonly kind: 'preview';
  readonly streamId: string;
  readonly modelId: string;
  readonly seq: number;
  readonly ptsMs: number | null;
  readonly captureTimeMs: number;
  /** The JPEG's size (the mask's aspect ratio, smaller). */
  readonly width: number;
  readonly height: number;
  /** A view into the message: a baseline JPEG (JFIF) file. */
  readonly jpeg: Uint8Array;
}

/** A message type this decoder does not know (a later addition); skip it. */
export interface UnknownMessage {
  readonly kind: 'unknown';
  readonly messageType: number;
}

export type BinaryMessage = MaskMessage | PreviewMessage | UnknownMessage;

// ---- client → server ----
export type ClientMessage =
  | { type: 'subscribe'; streams: string[] }
  | { type: 'unsubscribe'; streams: string[] }
  | { type: 'encoding'; encoding: MaskEncoding }
  | { type: 'list_streams' }
  | { type: 'model_card' }
  | { type: 'preview'; enabled: boolean; maxFps?: number; width?: number }
  | { type: 'areas'; enabled: boolean };

// ---- server → client ----
export interface HelloMessage {
  type: 'hello';
  protocol: number;
  model: string;
  streams: string[];
  encodings: MaskEncoding[];
  encoding: MaskEncoding;
  maxControlMessageBytes: number;
}
export interface SubscriptionMessage {
  type: 'subscription';
  all: boolean;
  streams: string[];
  encoding: MaskEncoding;
}
export interface StreamInfoMessage {
  id: string;
  state: StreamState;
  url: string;
  width: number;
  height: number;
  framesPublished?: number;
  drops?: Record<string, number>;
}
export interface StreamsMessage {
  type: 'streams';
  streams: StreamInfoMessage[];
  /**
   * Present when the server sends the list unsolicited because it changed at run time: the ids
   * added, changed (restarted with new settings) or removed. A removed stream has left this
   * client's subscription.
   */
  change?: { added?: string[]; changed?: string[]; removed?: string[] };
}
export interface ModelCardMessage {
  type: 'model_card';
  card: {
    name: string;
    classes: { id: number; name: string; color: [number, number, number] }[];
    [key: string]: unknown;
  };
}
export interface PreviewSettingsMessage {
  type: 'preview';
  enabled: boolean;
  maxFps: number;
  width: number;
}
export interface ErrorMessage {
  type: 'error';
  code: string;
  field: string | null;
  expected: string;
  message: string;
  request: string | null;
}
/** The reply to an `areas` request. */
export interface AreasSettingsMessage {
  type: 'areas';
  enabled: boolean;
}

/** After each mask, to a client that sent `{"type":"areas","enabled":true}`: pixel counts per class id. */
export interface ClassAreasMessage {
  type: 'class_areas';
  stream: string;
  seq: number;
  captureTimeMs: number;
  pixels: number;
  counts: number[];
  zones: { pixels: number; counts: number[]; ratio: number; occupied: boolean }[];
}

export type ServerMessage =
  | HelloMessage
  | SubscriptionMessage
  | StreamsMessage
  | ModelCardMessage
  | PreviewSettingsMessage
  | AreasSettingsMessage
  | ClassAreasMessage
  | ErrorMessage;

/** Every server text message type (docs/protocol/control-messages.schema.json, server_message). */
export const SERVER_MESSAGE_TYPES: readonly ServerMessage['type'][] = ['hello', 'subscription', 'streams', 'model_card', 'preview', 'areas', 'class_areas', 'error'];

/** Decodes one binary message of any type; throws ProtocolDecodeError naming the field that is wrong. */
export function decodeMessage(data: ArrayBuffer | Uint8Array): BinaryMessage {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const type = bytes.byteLength > 5 ? (bytes[5] as number) : MESSAGE_TYPE_MASK;
  if (type === MESSAGE_TYPE_MASK) return decodeMaskMessage(bytes);
  if (type !== MESSAGE_TYPE_PREVIEW_JPEG) return { kind: 'unknown', messageType: type };
  const h = decodeHeader(bytes, PREVIEW_ENCODING_JPEG);
  return {
    kind: 'preview',
    streamId: h.streamId,
    modelId: h.modelId,
    seq: h.seq,
    ptsMs: h.ptsMs,
    captureTimeMs: h.captureTimeMs,
    width: h.width,
    height: h.height,
    jpeg: h.payload,
  };
}

/** Decodes one mask message (type 1); throws ProtocolDecodeError naming the field that is wrong. */
export function decodeMaskMessage(data: ArrayBuffer | Uint8Array): MaskMessage {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const h = decodeHeader(bytes, null);
  if (h.messageType !== MESSAGE_TYPE_MASK) throw new ProtocolDecodeError(`messageType: ${h.messageType}; expected ${MESSAGE_TYPE_MASK} (mask)`);
  const encoding = ENCODINGS[h.encodingCode];
  if (encoding === undefined) throw new ProtocolDecodeError(`encoding: ${h.encodingCode}; expected 0 (raw), 1 (deflate) or 2 (png)`);
  const { encodingCode: _code, ...fields } = h;
  return { kind: 'mask', ...fields, encoding };
}

/** A mask's fields with the encoding still its wire code: what every binary message's header holds. */
type Header = Omit<MaskMessage, 'kind' | 'encoding'> & { readonly encodingCode: number };

/** The common header of every binary message; `encoding` when the type fixes it. */
function decodeHeader(bytes: Uint8Array, encoding: number | null): Header {
  if (bytes.byteLength < HEADER_FIXED_BYTES) {
    throw new ProtocolDecodeError(`message: ${bytes.byteLength} bytes; expected at least ${HEADER_FIXED_BYTES}`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (MAGIC_BYTES.some((b, i) => v.getUint8(i) !== b)) {
    const hex = [0, 1, 2, 3].map((i) => v.getUint8(i).toString(16).padStart(2, '0')).join('');
    throw new ProtocolDecodeError(`magic: ${hex}; expected 53454744 ('SEGD')`);
  }
  const version = v.getUint8(4);
  if (version !== PROTOCOL_VERSION) throw new ProtocolDecodeError(`version: ${version}; expected ${PROTOCOL_VERSION}`);
  const encodingCode = v.getUint8(6);
  if (encoding !== null && encodingCode !== encoding) throw new ProtocolDecodeError(`encoding: ${encodingCode}; expected ${encoding}`);
  const headerLength = v.getUint16(8, true);
  const sLen = v.getUint16(10, true);
  const mLen = v.getUint16(12, true);
  if (headerLength !== HEADER_FIXED_BYTES + sLen + mLen) {
    throw new ProtocolDecodeError(`headerLength: ${headerLength}; expected ${HEADER_FIXED_BYTES} + ${sLen} + ${mLen}`);
  }
  const payloadLength = v.getUint32(44, true);
  if (bytes.byteLength !== headerLength + payloadLength) {
    throw new ProtocolDecodeError(`message: ${bytes.byteLength} bytes; expected headerLength ${headerLength} + payloadLength ${payloadLength}`);
  }
  const seqHi = v.getUint32(20, true);
  if (seqHi >= 2 ** 21) throw new ProtocolDecodeError(`seq: high word ${seqHi} exceeds 2^53`);
  const pts = v.getFloat64(24, true);
  const text = new TextDecoder();
  return {
    version,
    messageType: v.getUint8(5),
    encodingCode,
    flags: v.getUint8(7),
    streamId: text.decode(bytes.subarray(HEADER_FIXED_BYTES, HEADER_FIXED_BYTES + sLen)),
    modelId: text.decode(bytes.subarray(HEADER_FIXED_BYTES + sLen, headerLength)),
    seq: v.getUint32(16, true) + seqHi * 2 ** 32,
    ptsMs: Number.isNaN(pts) ? null : pts,
    captureTimeMs: v.getFloat64(32, true),
    width: v.getUint16(40, true),
    height: v.getUint16(42, true),
    payload: bytes.subarray(headerLength),
  };
}

/** Parses one text message from the server; throws when it is not a known server message. */
export function parseServerMessage(text: string): ServerMessage {
  const msg: unknown = JSON.parse(text);
  if (typeof msg !== 'object' || msg === null || !('type' in msg)) throw new Error('segd reply: not an object with a type');
  const type = (msg as { type: unknown }).type;
  if (!(SERVER_MESSAGE_TYPES as readonly unknown[]).includes(type)) throw new Error(`segd reply: unknown type ${JSON.stringify(type)}`);
  return msg as ServerMessage;
}

export function encodeClientMessage(msg: ClientMessage): string {
  return JSON.stringify(msg);
}
