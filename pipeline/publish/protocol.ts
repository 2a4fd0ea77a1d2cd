/**
 * Binary layout of the segd WebSocket protocol, version 1 (docs/protocol.md is the reference:
 * change both together). Encoding writes into a caller-provided buffer; decoding validates
 * everything a peer could get wrong and names the field.
 */

export const PROTOCOL_VERSION = 1;
/** 'SEGD' in ASCII. */
export const MAGIC = Buffer.from('SEGD', 'ascii');
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
export const ENCODING_CODE: Readonly<Record<MaskEncoding, number>> = { raw: 0, deflate: 1, png: 2 };

/** Control (text) messages above this get an `error` reply. */
export const MAX_CONTROL_MESSAGE_BYTES = 64 * 1024;
/** Incoming messages above this close the connection (1009) before they are buffered. */
export const MAX_INCOMING_MESSAGE_BYTES = 1024 * 1024;

// Field offsets of the fixed part.
const OFF_VERSION = 4;
const OFF_TYPE = 5;
const OFF_ENCODING = 6;
const OFF_FLAGS = 7;
const OFF_HEADER_LENGTH = 8;
const OFF_STREAM_ID_LENGTH = 10;
const OFF_MODEL_ID_LENGTH = 12;
const OFF_RESERVED = 14;
const OFF_SEQ_LO = 16;
const OFF_SEQ_HI = 20;
const OFF_PTS = 24;
const OFF_CAPTURE = 32;
const OFF_WIDTH = 40;
const OFF_HEIGHT = 42;
const OFF_PAYLOAD_LENGTH = 44;

const TWO_POW_32 = 2 ** 32;

/** What the publisher knows per frame; ids arrive pre-encoded (UTF-8) so no per-frame string encoding. */
export interface MaskHeaderFields {
  /** Default MESSAGE_TYPE_MASK; previews share the layout (width/height = the JPEG's). */
  readonly messageType?: number;
  readonly encoding: number;
  readonly streamId: Uint8Array;
  readonly modelId: Uint8Array;
  readonly seq: number;
  readonly ptsMs: number | null;
  readonly captureTimeMs: number;
  readonly width: number;
  readonly height: number;
  readonly payloadLength: number;
}

export interface MaskHeader {
  readonly version: number;
  readonly messageType: number;
  readonly encoding: MaskEncoding;
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
}

export function maskHeaderLength(streamIdBytes: number, modelIdBytes: number): number {
  return HEADER_FIXED_BYTES + streamIdBytes + modelIdBytes;
}

/**
 * Writes a mask header at `offset` of `target` and returns its length. Throws RangeError naming the
 * field when a value does not fit the layout (a programming error upstream, not peer input).
 */
export function encodeMaskHeader(target: Buffer, offset: number, f: MaskHeaderFields): number {
  const sLen = f.streamId.byteLength;
  const mLen = f.modelId.byteLength;
  if (sLen < 1 || sLen > MAX_STREAM_ID_BYTES) throw new RangeError(`streamId: ${sLen} bytes; expected 1…${MAX_STREAM_ID_BYTES}`);
  if (mLen > MAX_MODEL_ID_BYTES) throw new RangeError(`modelId: ${mLen} bytes; expected at most ${MAX_MODEL_ID_BYTES}`);
  if (!Number.isInteger(f.width) || f.width < 0 || f.width > 0xffff) throw new RangeError(`width: ${f.width}; expected a u16`);
  if (!Number.isInteger(f.height) || f.height < 0 || f.height > 0xffff) throw new RangeError(`height: ${f.height}; expected a u16`);
  if (!Number.isSafeInteger(f.seq) || f.seq < 0) throw new RangeError(`seq: ${f.seq}; expected a non-negative safe integer`);
  if (!Number.isInteger(f.payloadLength) || f.payloadLength < 0 || f.payloadLength > 0xffffffff) {
    throw new RangeError(`payloadLength: ${f.payloadLength}; expected a u32`);
  }
  const headerLength = HEADER_FIXED_BYTES + sLen + mLen;
  if (target.length - offset < headerLength) throw new RangeError(`target: ${target.length - offset} bytes free; need ${headerLength}`);

  MAGIC.copy(target, offset);
  target[offset + OFF_VERSION] = PROTOCOL_VERSION;
  target[offset + OFF_TYPE] = f.messageType ?? MESSAGE_TYPE_MASK;
  target[offset + OFF_ENCODING] = f.encoding;
  target[offset + OFF_FLAGS] = 0;
  target.writeUInt16LE(headerLength, offset + OFF_HEADER_LENGTH);
  target.writeUInt16LE(sLen, offset + OFF_STREAM_ID_LENGTH);
  target.writeUInt16LE(mLen, offset + OFF_MODEL_ID_LENGTH);
  target.writeUInt16LE(0, offset + OFF_RESERVED);
  // Two u32 halves: no BigInt allocation per frame.
  target.writeUInt32LE(f.seq % TWO_POW_32, offset + OFF_SEQ_LO);
  target.writeUInt32LE(Math.floor(f.seq / TWO_POW_32), offset + OFF_SEQ_HI);
  target.writeDoubleLE(f.ptsMs ?? Number.NaN, offset + OFF_PTS);
  target.writeDoubleLE(f.captureTimeMs, offset + OFF_CAPTURE);
  target.writeUInt16LE(f.width, offset + OFF_WIDTH);
  target.writeUInt16LE(f.height, offset + OFF_HEIGHT);
  target.writeUInt32LE(f.payloadLength, offset + OFF_PAYLOAD_LENGTH);
  target.set(f.streamId, offset + HEADER_FIXED_BYTES);
  target.set(f.modelId, offset + HEADER_FIXED_BYTES + sLen);
  return headerLength;
}

/** A message that is not a valid version-1 mask message; the text names the field. */
export class ProtocolDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolDecodeError';
  }
}

/**
 * Decodes the header of a whole binary message (header + payload) and checks that the message
 * length matches. The payload is `message.subarray(header.headerLength)`.
 */
export function decodeMaskHeader(message: Uint8Array): MaskHeader {
  if (message.byteLength < HEADER_FIXED_BYTES) {
    throw new ProtocolDecodeError(`message: ${message.byteLength} bytes; expected at least ${HEADER_FIXED_BYTES}`);
  }
  const b = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  if (!b.subarray(0, 4).equals(MAGIC)) throw new ProtocolDecodeError(`magic: ${b.subarray(0, 4).toString('hex')}; expected 53454744 ('SEGD')`);
  const version = b[OFF_VERSION] ?? 0;
  if (version !== PROTOCOL_VERSION) throw new ProtocolDecodeError(`version: ${version}; expected ${PROTOCOL_VERSION}`);
  const encodingCode = b[OFF_ENCODING] ?? 0;
  const encoding = ENCODINGS[encodingCode];
  if (encoding === undefined) throw new ProtocolDecodeError(`encoding: ${encodingCode}; expected 0 (raw), 1 (deflate) or 2 (png)`);
  const headerLength = b.readUInt16LE(OFF_HEADER_LENGTH);
  const sLen = b.readUInt16LE(OFF_STREAM_ID_LENGTH);
  const mLen = b.readUInt16LE(OFF_MODEL_ID_LENGTH);
  if (headerLength !== HEADER_FIXED_BYTES + sLen + mLen) {
    throw new ProtocolDecodeError(`headerLength: ${headerLength}; expected ${HEADER_FIXED_BYTES} + ${sLen} + ${mLen}`);
  }
  const payloadLength = b.readUInt32LE(OFF_PAYLOAD_LENGTH);
  if (b.length !== headerLength + payloadLength) {
    throw new ProtocolDecodeError(`message: ${b.length} bytes; expected headerLength ${headerLength} + payloadLength ${payloadLength}`);
  }
  const seqHi = b.readUInt32LE(OFF_SEQ_HI);
  if (seqHi >= 2 ** 21) throw new ProtocolDecodeError(`seq: high word ${seqHi} exceeds 2^53`);
  const pts = b.readDoubleLE(OFF_PTS);
  return {
    version,
    messageType: b[OFF_TYPE] ?? 0,
    encoding,
    flags: b[OFF_FLAGS] ?? 0,
    headerLength,
    streamId: b.toString('utf8', HEADER_FIXED_BYTES, HEADER_FIXED_BYTES + sLen),
    modelId: b.toString('utf8', HEADER_FIXED_BYTES + sLen, headerLength),
    seq: b.readUInt32LE(OFF_SEQ_LO) + seqHi * TWO_POW_32,
    ptsMs: Number.isNaN(pts) ? null : pts,
    captureTimeMs: b.readDoubleLE(OFF_CAPTURE),
    width: b.readUInt16LE(OFF_WIDTH),
    height: b.readUInt16LE(OFF_HEIGHT),
    payloadLength,
  };
}
