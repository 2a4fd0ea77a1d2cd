// The server against the protocol's machine-readable definition (docs/protocol/): it encodes every
// golden header vector to exactly its bytes; its control-message schemas (TypeBox) are the file's
// request_* definitions; what it accepts and refuses agrees with the file; the replies it builds
// are server messages by the file.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StreamAnalyzer } from '../../pipeline/analysis/frame-analysis.js';
import { classAreasMessage } from '../../pipeline/publish/frame-fanout.js';
import { REQUEST_SCHEMAS, REQUEST_TYPES } from '../../pipeline/publish/control-schema.js';
import { helloReply, parseControlMessage, type StreamCatalog } from '../../pipeline/publish/control-messages.js';
import { encodeMaskHeader } from '../../pipeline/publish/protocol.js';
import { CONTROL_SCHEMA, VECTORS, controlValidator, hex } from '../helpers/protocol-definition.js';

describe('server: the protocol definition in docs/protocol/', () => {
  it('encodes every golden header vector to exactly its bytes', () => {
    assert.ok(VECTORS.valid.length >= 4);
    for (const v of VECTORS.valid) {
      const h = v.header;
      const message = hex(v.message);
      const target = Buffer.alloc(h.headerLength);
      const n = encodeMaskHeader(target, 0, {
        messageType: h.messageType,
        encoding: h.encodingCode,
        streamId: Buffer.from(h.streamId),
        modelId: Buffer.from(h.modelId),
        seq: h.seq,
        ptsMs: h.ptsMs,
        captureTimeMs: h.captureTimeMs,
        width: h.width,
        height: h.height,
        payloadLength: h.payloadLength,
      });
      assert.equal(n, h.headerLength, v.name);
      assert.equal(target.toString('hex'), message.subarray(0, n).toString('hex'), v.name);
      assert.equal(message.length, h.headerLength + h.payloadLength, v.name);
    }
  });

  it('its control-message schemas are the file\'s request definitions, field for field', () => {
    for (const type of REQUEST_TYPES) {
      assert.deepEqual(CONTROL_SCHEMA.definitions[`request_${type}`], JSON.parse(JSON.stringify(REQUEST_SCHEMAS[type])), type);
    }
    const listed = (CONTROL_SCHEMA.definitions['client_message']?.['oneOf'] as { $ref: string }[]).map((r) => r.$ref.replace('#/definitions/request_', ''));
    assert.deepEqual(listed, [...REQUEST_TYPES]);
  });

  it('accepts what the file calls a client message and refuses what it does not', () => {
    const valid = controlValidator('client_message');
    const catalog: StreamCatalog = { has: (id) => id === 'cam1', ids: () => ['cam1'] };
    const cases: [unknown, boolean][] = [
      [{ type: 'subscribe', streams: ['cam1'] }, true],
      [{ type: 'unsubscribe', streams: ['cam1'] }, true],
      [{ type: 'encoding', encoding: 'deflate' }, true],
      [{ type: 'list_streams' }, true],
      [{ type: 'model_card' }, true],
      [{ type: 'preview', enabled: true, maxFps: 2, width: 320 }, true],
      [{ type: 'areas', enabled: false }, true],
      [{ type: 'encoding', encoding: 'jpeg' }, false],
      [{ type: 'subscribe', streams: [] }, false],
      [{ type: 'subscribe', stream: ['cam1'] }, false],
      [{ type: 'preview', enabled: true, maxFps: 0 }, false],
      [{ type: 'list_streams', x: 1 }, false],
      [{ type: 'dance' }, false],
    ];
    for (const [msg, ok] of cases) {
      assert.equal(valid(msg), ok, `schema: ${JSON.stringify(msg)}`);
      const r = parseControlMessage(Buffer.from(JSON.stringify(msg)), false, catalog);
      assert.equal(r.type !== 'error', ok, `server: ${JSON.stringify(msg)} → ${JSON.stringify(r)}`);
    }
  });

  it('the replies it builds are server messages by the file', () => {
    const server = controlValidator('server_message');
    const check = (msg: unknown): void => assert.ok(server(msg), `${JSON.stringify(msg)}: ${JSON.stringify(server.errors)}`);
    check(helloReply('m', ['cam1'], 'raw'));
    const catalog: StreamCatalog = { has: () => false, ids: () => [] };
    for (const bad of ['not json', '{"type":"dance"}', '{"type":"subscribe","streams":["x"]}', '{"type":"encoding","encoding":"jpeg"}']) {
      const r = parseControlMessage(Buffer.from(bad), false, catalog);
      assert.equal(r.type, 'error');
      check(JSON.parse(JSON.stringify(r)));
    }
    const zone = { name: 'top', polygon: [[0, 0], [1, 0], [1, 0.5], [0, 0.5]], classes: ['sky'], threshold: 0.5, hysteresis: 0.1, minDurationMs: 0 };
    const analyzer = new StreamAnalyzer('cam1', 4, 2, ['road', 'sky'], [zone] as never);
    const mask = Uint8Array.from([1, 1, 1, 1, 0, 0, 0, 0]);
    const a = analyzer.analyze({ streamId: 'cam1', seq: 3, ptsMs: 0, captureTimeMs: 1, decodedAtNs: 0n, queuedAtNs: 0n, dequeuedAtNs: 0n, inferStartNs: 0n, inferEndNs: 0n, width: 4, height: 2, mask });
    check(JSON.parse(classAreasMessage(a)));
  });
});
