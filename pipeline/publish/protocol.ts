/**
 * The server's side of the segd WebSocket protocol, version 1 (docs/protocol.md is the reference:
 * change both together): the header encoder, writing into a caller-provided buffer. The wire
 * constants are defined once, in the TypeScript client (clients/ts/protocol-client.ts, which must
 * stand alone in a browser), and imported from there; decoding is the client's too. Both are
 * checked against docs/protocol/ (golden header vectors, the control messages' JSON Schema).
 */
import {
  ENCODINGS,
  HEADER_FIXED_BYTES,
  MAGIC_BYTES,
  MAX_MODEL_ID_BYTES,
  MAX_STREAM_ID_BYTES,
  MESSAGE_TYPE_MASK,
  MESSAGE_TYPE_PREVIEW_JPEG,
  PREVIEW_ENCODING_JPEG,
  PROTOCOL_VERSION,
  type MaskEncoding,
} from '../../clients/ts/protocol-client.js';

export {
  ENCODINGS,
  HEADER_FIXED_BYTES,
  MAX_MODEL_ID_BYTES,
  MAX_STREAM_ID_BYTES,
  MESSAGE_TYPE_MASK,
  MESSAGE_TYPE_PREVIEW_JPEG,
  PREVIEW_ENCODING_JPEG,
  PROTOCOL_VERSION,
  type MaskEncoding,
};
/** 'SEGD' in ASCII. */
export const MAGIC = Buffer.from(MAGIC_BYTES);
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
