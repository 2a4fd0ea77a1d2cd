// End to end: control messages against the daemon process. A bad message gets an `error` reply
// naming what was wrong; that connection keeps working and another client is unaffected.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SAMPLE_CLIP_TRAIN, SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { MODEL_PATH, makeTempDir, testConfig, type DaemonProcess, startReadyDaemon } from '../helpers/daemon.js';
import { E2eClient } from '../helpers/e2e-client.js';
import type { ErrorMessage } from '../../clients/ts/protocol-client.js';

describe('e2e: control messages', { timeout: 120000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let daemon: DaemonProcess | null = null;
  const clients: E2eClient[] = [];

  before(async () => {
    tmp = makeTempDir('segd-e2e-control-');
    const cfg = testConfig([
      { id: 'val', url: SAMPLE_CLIP_VAL },
      { id: 'train', url: SAMPLE_CLIP_TRAIN },
    ]);
    daemon = await startReadyDaemon(tmp.dir, cfg);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.terminate()));
    await daemon?.stop();
    tmp.cleanup();
  });

  async function connect(): Promise<E2eClient> {
    const c = await E2eClient.connect((daemon as DaemonProcess).wsUrl);
    clients.push(c);
    return c;
  }

  it('answers each bad message with an error naming the field; the connection and another client continue', async () => {
    const a = await connect();
    const b = await connect();
    assert.deepEqual(a.hello.streams, ['val', 'train']);

    const cases: [string, string, string | null][] = [
      ['not json at all', 'bad_json', null],
      ['{"type":"subscribe","streams":["val","nope"]}', 'unknown_stream', 'streams[1]'],
      ['{"type":"encoding","encoding":"jpeg"}', 'bad_field', 'encoding'],
      ['{"type":"dance"}', 'bad_type', 'type'],
      ['{"type":"subscribe","streams":"val"}', 'bad_field', 'streams'],
      [JSON.stringify({ type: 'list_streams', pad: 'x'.repeat(70 * 1024) }), 'too_large', null],
    ];
    for (const [text, code, field] of cases) {
      const reply = await a.request(text);
      assert.equal(reply.type, 'error', `${text.slice(0, 60)} → ${JSON.stringify(reply).slice(0, 300)}`);
      const err = reply as ErrorMessage;
      assert.equal(err.code, code, err.message);
      assert.equal(err.field, field, err.message);
      assert.ok(err.message.length > 0);
    }

    // The same connection still works: a valid request is answered and masks keep coming.
    const sub = await a.request({ type: 'subscribe', streams: ['train'] });
    assert.deepEqual(sub, { type: 'subscription', all: false, streams: ['train'], encoding: 'raw' });
    const after = a.count('train');
    await a.waitUntil(() => a.count('train') >= after + 3, 'masks of train after the bad messages', 60000);
    // The untouched client receives both streams.
    await b.waitUntil(() => b.count('val') > 0 && b.count('train') > 0, 'masks of both streams on client b', 60000);
    assert.equal(b.texts.filter((t) => t.type === 'error').length, 0, 'client b saw no error');
  });

  it('list_streams reports live state and model_card returns the shipped card', async () => {
    const c = await connect();
    const streams = await c.request({ type: 'list_streams' });
    assert.equal(streams.type, 'streams');
    if (streams.type !== 'streams') return;
    assert.deepEqual(
      streams.streams.map((s) => [s.id, s.state, s.width, s.height]),
      [
        ['val', 'streaming', 480, 360],
        ['train', 'streaming', 480, 360],
      ],
    );
    assert.ok((streams.streams[0]?.framesPublished ?? 0) > 0);

    const reply = await c.request({ type: 'model_card' });
    assert.equal(reply.type, 'model_card');
    const shipped: unknown = JSON.parse(readFileSync(MODEL_PATH.replace(/\.onnx$/, '.json'), 'utf8'));
    if (reply.type === 'model_card') assert.deepEqual(reply.card, shipped);
  });
});
