/**
 * A mask message's header as the tests read it, from the one decoder (the TypeScript client's,
 * clients/ts/protocol-client.ts): its fields plus the header and payload lengths.
 */
import { decodeMaskMessage, type MaskMessage } from '../../clients/ts/protocol-client.js';

export { ProtocolDecodeError } from '../../clients/ts/protocol-client.js';

/** The decoded message's fields, the payload replaced by its length, plus the header's length. */
export type MaskHeader = Omit<MaskMessage, 'kind' | 'payload'> & {
  readonly headerLength: number;
  readonly payloadLength: number;
};

/** Decodes a whole mask message (header + payload); throws ProtocolDecodeError naming the field. */
export function decodeMaskHeader(message: Uint8Array): MaskHeader {
  const { kind: _kind, payload, ...fields } = decodeMaskMessage(message);
  return { ...fields, headerLength: message.byteLength - payload.byteLength, payloadLength: payload.byteLength };
}
