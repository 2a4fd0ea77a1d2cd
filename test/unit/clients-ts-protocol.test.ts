// The TypeScript client against the protocol's machine-readable definition (docs/protocol/): every
// golden header vector decodes to its fields, every invalid one is refused naming its field, the
// messages it builds are client messages by the file, and the server message types it knows are
// the file's.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolDecodeError, SERVER_MESSAGE_TYPES, decodeMessage, encodeClientMessage, parseServerMessage, type ClientMessage } from '../../clients/ts/protocol-client.js';
import { CONTROL_SCHEMA, VECTORS, controlValidator, hex } from '../helpers/protocol-definition.js';

describe('TypeScript client: the protocol definition in docs/protocol/', () => {
  it('decodes every golden header vector to its fields', () => {
    for (const v of VECTORS.valid) {
      const h = v.header;
      const m = decodeMessage(hex(v.message));
      const common = { streamId: h.streamId, modelId: h.modelId, seq: h.seq, ptsMs: h.ptsMs, captureTimeMs: h.captureTimeMs, width: h.width, height: h.height };
      if (h.messageType === 1) {
        assert.equal(m.kind, 'mask', v.name);
        if (m.kind !== 'mask') continue;
        assert.deepEqual(
          { ...common, version: m.version, messageType: m.messageType, encoding: m.encoding, flags: m.flags, payloadLength: m.payload.byteLength },
          { ...common, version: h.version, messageType: 1, encoding: h.encoding, flags: h.flags, payloadLength: h.payloadLength },
          v.name,
        );
        assert.deepEqual({ ...common, ...pick(m) }, { ...common }, v.name);
      } else {
        assert.equal(m.kind, 'preview', v.name);
        if (m.kind !== 'preview') continue;
        assert.deepEqual({ ...pick(m), jpegBytes: m.jpeg.byteLength }, { ...common, jpegBytes: h.payloadLength }, v.name);
      }
    }
  });

  it('refuses every invalid vector with a ProtocolDecodeError naming its field', () => {
    for (const v of VECTORS.invalid) {
      assert.throws(
        () => decodeMessage(hex(v.message)),
        (e: unknown) => e instanceof ProtocolDecodeError && e.message.startsWith(`${v.field}:`),
        v.name,
      );
    }
  });

  it('every message it can build is a client message by the file', () => {
    const valid = controlValidator('client_message');
    const built: ClientMessage[] = [
      { type: 'subscribe', streams: ['cam1'] },
      { type: 'unsubscribe', streams: ['cam1', 'cam2'] },
      { type: 'encoding', encoding: 'png' },
      { type: 'list_streams' },
      { type: 'model_card' },
      { type: 'preview', enabled: true },
      { type: 'preview', enabled: true, maxFps: 5, width: 240 },
      { type: 'areas', enabled: true },
    ];
    for (const msg of built) assert.ok(valid(JSON.parse(encodeClientMessage(msg))), `${JSON.stringify(msg)}: ${JSON.stringify(valid.errors)}`);
  });

  it('knows exactly the file\'s server message types, and parses a message of each', () => {
    const refs = (CONTROL_SCHEMA.definitions['server_message']?.['oneOf'] as { $ref: string }[]).map((r) => r.$ref.replace('#/definitions/', ''));
    const types = refs.map((d) => ((CONTROL_SCHEMA.definitions[d]?.['properties'] as { type: { const: string } }).type.const));
    assert.deepEqual([...SERVER_MESSAGE_TYPES].sort(), [...types].sort());
    for (const type of types) assert.equal(parseServerMessage(JSON.stringify({ type })).type, type);
    assert.throws(() => parseServerMessage('{"type":"dance"}'), /unknown type "dance"/);
  });
});

function pick(m: { streamId: string; modelId: string; seq: number; ptsMs: number | null; captureTimeMs: number; width: number; height: number }): object {
  return { streamId: m.streamId, modelId: m.modelId, seq: m.seq, ptsMs: m.ptsMs, captureTimeMs: m.captureTimeMs, width: m.width, height: m.height };
}
