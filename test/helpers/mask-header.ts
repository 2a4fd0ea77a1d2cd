/**
 * A mask message's header as the tests read it, from the one decoder (the TypeScript client's,
 * clients/ts/protocol-client.ts): its fields plus the header and payload lengths.
 */
import { decodeMaskMessage, type MaskEncoding } from '../../clients/ts/protocol-client.js';

export { ProtocolDecodeError } from '../../clients/ts/protocol-client.js';

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

/** Decodes a whole mask message (header + payload); throws ProtocolDecodeError naming the field. */
export function decodeMaskHeader(message: Uint8Array): MaskHeader {
  const { kind: _kind, payload, ...fields } = decodeMaskMessage(message);
  return { ...fields, headerLength: message.byteLength - payload.byteLength, payloadLength: payload.byteLength };
}
