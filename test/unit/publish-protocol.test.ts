import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeMaskMessage } from '../../clients/ts/protocol-client.js';
import { parseControlMessage, type StreamCatalog } from '../../pipeline/publish/control-messages.js';
import { ProtocolDecodeError, decodeMaskHeader } from '../helpers/mask-header.js';
import { encodeMaskHeader, maskHeaderLength, type MaskHeaderFields } from '../../pipeline/publish/protocol.js';

// Written by hand from docs/protocol.md, field by field (floats from IEEE-754 tables).
const GOLDEN_HEX = [
  '53 45 47 44', // magic 'SEGD'
  '01', // version 1
  '01', // type 1 = mask
  '02', // encoding 2 = png
  '00', // flags
  '35 00', // header length 48 + 4 + 1 = 53
  '04 00', // stream id length 4
  '01 00', // model id length 1
  '00 00', // reserved
  '05 00 00 00 01 00 00 00', // seq = 2^32 + 5 (lo, hi)
  '00 00 00 00 00 00 44 40', // pts 40.0 ms
  '00 08 80 56 fe bc 78 42', // capture 1700000000000.5 ms
  'e0 01', // width 480
  '68 01', // height 360
  '00 a3 02 00', // payload length 172800
  '63 61 6d 31', // "cam1"
  '6d', // "m"
].join(' ');
const GOLDEN = Buffer.from(GOLDEN_HEX.replaceAll(' ', ''), 'hex');

const FIELDS: MaskHeaderFields = {
  encoding: 2,
  streamId: Buffer.from('cam1'),
  modelId: Buffer.from('m'),
  seq: 2 ** 32 + 5,
  ptsMs: 40,
  captureTimeMs: 1700000000000.5,
  width: 480,
  height: 360,
  payloadLength: 172800,
};

describe('protocol header', () => {
  it('encodes the documented byte layout', () => {
    const target = Buffer.alloc(100, 0xaa);
    const n = encodeMaskHeader(target, 7, FIELDS);
    assert.equal(n, 53);
    assert.equal(maskHeaderLength(4, 1), 53);
    assert.equal(target.subarray(7, 7 + n).toString('hex'), GOLDEN.toString('hex'));
    // Nothing written outside [offset, offset + n).
    assert.ok(target.subarray(0, 7).every((b) => b === 0xaa));
    assert.ok(target.subarray(7 + n).every((b) => b === 0xaa));
  });

  it('round-trips through the server decoder and the client decoder', () => {
    const payload = Buffer.from([3, 1, 4, 1, 5, 9]);
    for (const ptsMs of [40, null]) {
      const header = Buffer.alloc(maskHeaderLength(4, 1));
      encodeMaskHeader(header, 0, { ...FIELDS, ptsMs, width: 3, height: 2, payloadLength: payload.length, encoding: 0 });
      const message = Buffer.concat([header, payload]);

      const h = decodeMaskHeader(message);
      assert.deepEqual(
        { ...h },
        {
          version: 1, messageType: 1, encoding: 'raw', flags: 0, headerLength: 53, streamId: 'cam1', modelId: 'm',
          seq: 2 ** 32 + 5, ptsMs, captureTimeMs: 1700000000000.5, width: 3, height: 2, payloadLength: 6,
        },
      );
      const c = decodeMaskMessage(new Uint8Array(message));
      assert.equal(c.streamId, 'cam1');
      assert.equal(c.modelId, 'm');
      assert.equal(c.seq, 2 ** 32 + 5);
      assert.equal(c.ptsMs, ptsMs);
      assert.equal(c.captureTimeMs, 1700000000000.5);
      assert.deepEqual([c.width, c.height, c.encoding], [3, 2, 'raw']);
      assert.deepEqual([...c.payload], [...payload]);
    }
  });

  it('decodes the golden bytes with a multi-byte UTF-8 stream id', () => {
    const sid = Buffer.from('caméra-1');
    const header = Buffer.alloc(maskHeaderLength(sid.length, 0));
    encodeMaskHeader(header, 0, { ...FIELDS, streamId: sid, modelId: Buffer.alloc(0), payloadLength: 0 });
    const h = decodeMaskHeader(header);
    assert.equal(h.streamId, 'caméra-1');
    assert.equal(h.modelId, '');
    assert.equal(decodeMaskMessage(header).streamId, 'caméra-1');
  });

  it('rejects malformed messages naming the field', () => {
    const good = Buffer.concat([GOLDEN, Buffer.alloc(172800)]);
    const cases: [string, (b: Buffer) => Buffer, RegExp][] = [
      ['short', (b) => b.subarray(0, 40), /message: 40 bytes; expected at least 48/],
      ['magic', (b) => { b[0] = 0x58; return b; }, /magic/],
      ['version', (b) => { b[4] = 2; return b; }, /version: 2; expected 1/],
      ['encoding', (b) => { b[6] = 7; return b; }, /encoding: 7/],
      ['headerLength', (b) => { b.writeUInt16LE(60, 8); return b; }, /headerLength: 60/],
      ['truncated payload', (b) => b.subarray(0, b.length - 1), /expected headerLength 53 \+ payloadLength 172800/],
    ];
    for (const [name, mutate, pattern] of cases) {
      const bad = mutate(Buffer.from(good));
      assert.throws(() => decodeMaskHeader(bad), (e: unknown) => e instanceof ProtocolDecodeError && pattern.test(e.message), name);
      assert.throws(() => decodeMaskMessage(bad), Error, `client decoder: ${name}`);
    }
  });

  it('refuses to encode values that do not fit, naming the field', () => {
    const t = Buffer.alloc(2000);
    assert.throws(() => encodeMaskHeader(t, 0, { ...FIELDS, width: 70000 }), /width: 70000/);
    assert.throws(() => encodeMaskHeader(t, 0, { ...FIELDS, streamId: Buffer.alloc(0) }), /streamId: 0 bytes/);
    assert.throws(() => encodeMaskHeader(t, 0, { ...FIELDS, seq: -1 }), /seq: -1/);
    assert.throws(() => encodeMaskHeader(Buffer.alloc(10), 0, FIELDS), /target: 10 bytes free; need 53/);
  });
});

describe('control message validation', () => {
  const catalog: StreamCatalog = { has: (id) => id === 'cam1' || id === 'cam2', ids: () => ['cam1', 'cam2'] };
  const parse = (text: string, binary = false): ReturnType<typeof parseControlMessage> =>
    parseControlMessage(Buffer.from(text), binary, catalog);

  it('accepts every documented request', () => {
    assert.deepEqual(parse('{"type":"subscribe","streams":["cam1"]}'), { type: 'subscribe', streams: ['cam1'] });
    assert.deepEqual(parse('{"type":"unsubscribe","streams":["cam2","cam1"]}'), { type: 'unsubscribe', streams: ['cam2', 'cam1'] });
    assert.deepEqual(parse('{"type":"encoding","encoding":"png"}'), { type: 'encoding', encoding: 'png' });
    assert.deepEqual(parse('{"type":"list_streams"}'), { type: 'list_streams' });
    assert.deepEqual(parse('{"type":"model_card"}'), { type: 'model_card' });
  });

  it('answers each bad message with the code and the field', () => {
    const cases: [string, string, string | null, RegExp][] = [
      ['not json', 'bad_json', null, /not JSON/],
      ['[1,2]', 'bad_message', null, /expected a JSON object/],
      ['{}', 'bad_type', 'type', /type: missing/],
      ['{"type":5}', 'bad_type', 'type', /type: got 5/],
      ['{"type":"dance"}', 'bad_type', 'type', /unknown type "dance"; expected one of: subscribe, unsubscribe, encoding, list_streams, model_card/],
      ['{"type":"subscribe"}', 'bad_field', 'streams', /streams: missing; expected an array/],
      ['{"type":"subscribe","streams":"cam1"}', 'bad_field', 'streams', /streams: got "cam1"/],
      ['{"type":"subscribe","streams":[]}', 'bad_field', 'streams', /array of 0/],
      ['{"type":"subscribe","streams":["cam1",7]}', 'bad_field', 'streams[1]', /streams\[1\]: got 7; expected a stream id/],
      ['{"type":"subscribe","streams":["cam1","cam9"]}', 'unknown_stream', 'streams[1]', /unknown stream id "cam9"; expected one of: cam1, cam2/],
      ['{"type":"subscribe","stream":["cam1"]}', 'bad_field', 'stream', /not allowed in a subscribe message/],
      ['{"type":"encoding","encoding":"jpeg"}', 'bad_field', 'encoding', /got "jpeg"; expected one of: raw, deflate, png/],
      ['{"type":"encoding"}', 'bad_field', 'encoding', /encoding: missing/],
      ['{"type":"list_streams","x":1}', 'bad_field', 'x', /not allowed in a list_streams message/],
    ];
    for (const [text, code, field, pattern] of cases) {
      const r = parse(text);
      assert.equal(r.type, 'error', text);
      if (r.type !== 'error') continue;
      assert.equal(r.code, code, text);
      assert.equal(r.field, field, text);
      assert.match(r.message, pattern, text);
    }
  });

  it('refuses binary and oversized messages before parsing', () => {
    const bin = parse('{"type":"list_streams"}', true);
    assert.equal(bin.type === 'error' && bin.code, 'not_text');
    const big = parse(JSON.stringify({ type: 'list_streams', pad: 'x'.repeat(70_000) }));
    assert.equal(big.type === 'error' && big.code, 'too_large');
  });

  it('never echoes a long value back in full', () => {
    const r = parse(JSON.stringify({ type: 'encoding', encoding: 'y'.repeat(5000) }));
    assert.ok(r.type === 'error' && r.message.length < 300, 'error text stays short');
  });
});
