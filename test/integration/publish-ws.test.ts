import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { WebSocket } from 'ws';
import type { MaskEncoding } from '../../pipeline/publish/protocol.js';
import { decodePng } from '../helpers/png-decode.js';
import {
  TEST_MODEL_CARD,
  TestClient,
  loadCamvidMasks,
  maskResult,
  clientFor,
  publishServerFor,
} from '../helpers/publish-harness.js';

const { masks, width: W, height: H } = loadCamvidMasks(4);
const mask = (i: number): Uint8Array => masks[i % masks.length] as Uint8Array;


function decodePayload(encoding: MaskEncoding, payload: Uint8Array): Buffer {
  switch (encoding) {
    case 'raw':
      return Buffer.from(payload);
    case 'deflate':
      return zlib.inflateSync(payload);
    case 'png':
      return Buffer.from(decodePng(payload).pixels);
  }
}

// Hang guard for each test (not a timing assertion).
const guard = { timeout: 60_000 };

describe('WsPublisher over real sockets', () => {
  it('says hello, then sends every stream raw to a client that sent nothing', guard, async (t) => {
    const srv = await publishServerFor(t);
    const c = await clientFor(t, srv);
    assert.equal(c.hello.protocol, 1);
    assert.equal(c.hello.model, 'test-model');
    assert.deepEqual(c.hello.streams, ['cam1', 'cam2']);
    assert.equal(c.hello.encoding, 'raw');

    srv.publisher.publish(maskResult('cam1', 10, mask(0), W, H));
    srv.publisher.publish(maskResult('cam2', 20, mask(1), W, H));
    const a = await c.nextMask();
    const b = await c.nextMask();
    assert.deepEqual([a.streamId, a.seq, a.encoding, a.modelId, a.width, a.height, a.ptsMs], ['cam1', 10, 'raw', 'test-model', W, H, 1000]);
    assert.deepEqual([b.streamId, b.seq], ['cam2', 20]);
    assert.deepEqual(Buffer.from(a.payload), Buffer.from(mask(0)));
    assert.deepEqual(Buffer.from(b.payload), Buffer.from(mask(1)));
  });

  it('filters by subscription; unsubscribe and the default client are independent', guard, async (t) => {
    const srv = await publishServerFor(t);
    const only2 = await clientFor(t, srv);
    const all = await clientFor(t, srv);
    const not1 = await clientFor(t, srv);
    assert.deepEqual(await only2.request({ type: 'subscribe', streams: ['cam2'] }), {
      type: 'subscription', all: false, streams: ['cam2'], encoding: 'raw',
    });
    assert.deepEqual(await not1.request({ type: 'unsubscribe', streams: ['cam1'] }), {
      type: 'subscription', all: false, streams: ['cam2'], encoding: 'raw',
    });

    const order = [['cam1', 1], ['cam2', 1], ['cam1', 2], ['cam2', 2], ['cam1', 3], ['cam2', 3]] as const;
    order.forEach(([s, seq], i) => srv.publisher.publish(maskResult(s, seq, mask(i), W, H)));

    const got = async (c: TestClient, n: number): Promise<string[]> => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const m = await c.nextMask();
        out.push(`${m.streamId}#${m.seq}`);
      }
      return out;
    };
    assert.deepEqual(await got(all, 6), order.map(([s, q]) => `${s}#${q}`));
    assert.deepEqual(await got(only2, 3), ['cam2#1', 'cam2#2', 'cam2#3']);
    assert.deepEqual(await got(not1, 3), ['cam2#1', 'cam2#2', 'cam2#3']);

    // Widen again: cam1 back on; the next frames of both streams arrive, nothing else was queued.
    assert.equal((await only2.request({ type: 'subscribe', streams: ['cam1'] })).type, 'subscription');
    srv.publisher.publish(maskResult('cam1', 4, mask(0), W, H));
    assert.deepEqual(await got(only2, 1), ['cam1#4']);
    assert.equal(only2.masks.length, 0);
  });

  it('delivers the exact mask in all three encodings, encoding once per frame per encoding in use', guard, async (t) => {
    const encodedCalls: MaskEncoding[] = [];
    const srv = await publishServerFor(t, { publisher: { hooks: { onEncoded: (e) => encodedCalls.push(e) } } });
    const clients: [MaskEncoding, TestClient][] = [];
    for (const enc of ['raw', 'deflate', 'png', 'png', 'deflate'] as const) {
      const c = await clientFor(t, srv);
      const r = await c.request({ type: 'encoding', encoding: enc });
      assert.deepEqual(r, { type: 'subscription', all: true, streams: ['cam1', 'cam2'], encoding: enc });
      clients.push([enc, c]);
    }
    for (let f = 0; f < masks.length; f++) srv.publisher.publish(maskResult('cam1', f, mask(f), W, H));
    for (const [enc, c] of clients) {
      for (let f = 0; f < masks.length; f++) {
        const m = await c.nextMask();
        assert.equal(m.encoding, enc);
        assert.equal(m.seq, f);
        assert.deepEqual(decodePayload(enc, m.payload), Buffer.from(mask(f)), `${enc} frame ${f}`);
      }
    }
    // 4 frames × 3 encodings in use, although 5 clients.
    assert.equal(encodedCalls.length, 4 * 3);
    assert.deepEqual(new Set(encodedCalls), new Set(['raw', 'deflate', 'png']));
  });

  it('answers list_streams and model_card', guard, async (t) => {
    const srv = await publishServerFor(t);
    const c = await clientFor(t, srv);
    const s = await c.request({ type: 'list_streams' });
    assert.equal(s.type, 'streams');
    if (s.type === 'streams') assert.deepEqual(s.streams.map((x) => [x.id, x.state, x.width]), [['cam1', 'streaming', 480], ['cam2', 'streaming', 480]]);
    assert.deepEqual(await c.request({ type: 'model_card' }), { type: 'model_card', card: TEST_MODEL_CARD });
  });

  it('answers each bad control message with an error naming the field; that connection and another client carry on', guard, async (t) => {
    const srv = await publishServerFor(t);
    const bad = await clientFor(t, srv);
    const other = await clientFor(t, srv);
    const cases: [string | Buffer, string, string | null][] = [
      ['{"type":"subscribe","streams":["cam1","nope"]}', 'unknown_stream', 'streams[1]'],
      ['{"type":"subscribe","streams":[1]}', 'bad_field', 'streams[0]'],
      ['{"type":"encoding","encoding":"gif"}', 'bad_field', 'encoding'],
      ['{"type":"what"}', 'bad_type', 'type'],
      ['{"streams":[]}', 'bad_type', 'type'],
      ['{"type":"subscribe","streams":["cam1"],"extra":true}', 'bad_field', 'extra'],
      ['{oops', 'bad_json', null],
      ['"just a string"', 'bad_message', null],
      [Buffer.from([1, 2, 3]), 'not_text', null],
      [JSON.stringify({ type: 'list_streams', pad: 'z'.repeat(80 * 1024) }), 'too_large', null],
    ];
    let seq = 0;
    for (const [msg, code, field] of cases) {
      const r = await bad.request(msg);
      assert.equal(r.type, 'error', String(msg).slice(0, 60));
      if (r.type !== 'error') continue;
      assert.equal(r.code, code);
      assert.equal(r.field, field);
      assert.ok(r.message.length > 0 && r.expected.length > 0);
      // Same connection still works: a valid request is answered and masks still flow to both clients.
      assert.equal((await bad.request({ type: 'list_streams' })).type, 'streams');
      srv.publisher.publish(maskResult('cam1', ++seq, mask(seq), W, H));
      assert.equal((await bad.nextMask()).seq, seq);
      assert.equal((await other.nextMask()).seq, seq);
    }
    // A rejected subscribe changed nothing: the client still receives every stream.
    srv.publisher.publish(maskResult('cam2', 99, mask(0), W, H));
    assert.equal((await bad.nextMask()).streamId, 'cam2');
    assert.equal(other.texts.length, 0, 'the other client got no error replies');
  });

  it('closes a client sending more than 1 MiB (1009) without disturbing the others', guard, async (t) => {
    const srv = await publishServerFor(t);
    const hog = await clientFor(t, srv);
    const other = await clientFor(t, srv);
    hog.send('x'.repeat(2 * 1024 * 1024));
    assert.equal((await hog.closed).code, 1009);
    srv.publisher.publish(maskResult('cam1', 1, mask(0), W, H));
    assert.equal((await other.nextMask()).seq, 1);
    assert.equal(srv.publisher.clientCount, 1);
  });

  it('skips frames for a client that does not read (slow_client) while another receives every frame', guard, async (t) => {
    const srv = await publishServerFor(t, { publisher: { maxBufferedBytes: 256 * 1024 } });
    const slow = await clientFor(t, srv);
    const fast = await clientFor(t, srv);
    slow.ws.pause(); // stops reading its socket: the server's send buffer for it fills up
    const metricsValue = async (): Promise<number> => {
      const text = await srv.metrics.render();
      const m = /^segd_frames_dropped_total\{stream="cam1",reason="slow_client"\} (\d+)$/m.exec(text);
      return m ? Number(m[1]) : Number.NaN;
    };
    assert.equal(await metricsValue(), 0);

    // Publish, one frame at a time, until the slow client has skipped a few (bounded: a hang guard).
    let published = 0;
    for (; published < 1500; published++) {
      srv.publisher.publish(maskResult('cam1', published, mask(published), W, H));
      const m = await fast.nextMask();
      assert.equal(m.seq, published, 'the fast client gets every frame, in order');
      if (published % 20 === 0 && (await metricsValue()) >= 5) break;
    }
    const dropped = await metricsValue();
    assert.ok(dropped >= 5, `slow_client drops counted (${dropped} after ${published + 1} frames)`);

    // Once it reads again, the slow client gets exactly the frames it was not skipped for, in order.
    slow.ws.resume();
    const expected = published + 1 - dropped;
    const seqs: number[] = [];
    for (let i = 0; i < expected; i++) seqs.push((await slow.nextMask(10_000)).seq);
    assert.ok(seqs.every((s, i) => i === 0 || s > (seqs[i - 1] as number)), 'in order, gaps where skipped');
    // Its buffer is empty now, so the next frame reaches it, and nothing else was pending before it.
    srv.publisher.publish(maskResult('cam1', 100_000, mask(0), W, H));
    assert.equal((await slow.nextMask()).seq, 100_000);
    assert.equal((await fast.nextMask()).seq, 100_000);
    assert.equal(await metricsValue(), dropped, 'no further drops once it keeps up');
  });

  it('close() sends 1001 going away to every client, is idempotent, and refuses new clients', guard, async (t) => {
    const srv = await publishServerFor(t);
    const a = await clientFor(t, srv);
    const b = await clientFor(t, srv);
    const p1 = srv.publisher.close();
    const p2 = srv.publisher.close();
    assert.equal(p1, p2);
    const [ca, cb] = await Promise.all([a.closed, b.closed]);
    assert.deepEqual(ca, { code: 1001, reason: 'going away' });
    assert.deepEqual(cb, { code: 1001, reason: 'going away' });
    await p1;
    assert.equal(srv.publisher.clientCount, 0);
    srv.publisher.publish(maskResult('cam1', 1, mask(0), W, H)); // a no-op after close

    const refused = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(srv.wsUrl);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('connected after close')));
      ws.on('error', () => undefined);
    });
    assert.equal(refused, 503);
  });

  it('close() cuts off a client that never completes the closing handshake', guard, async (t) => {
    const srv = await publishServerFor(t, { publisher: { closeTimeoutMs: 200 } });
    const stuck = await clientFor(t, srv);
    const polite = await clientFor(t, srv);
    stuck.ws.pause(); // never reads the close frame, never answers it
    await srv.publisher.close();
    assert.equal(srv.publisher.clientCount, 0);
    assert.equal((await polite.closed).code, 1001);
    stuck.ws.resume();
    await stuck.closed; // it finds its connection gone once it reads again
  });

  it('drops a client that stops answering pings and keeps one that answers', guard, async (t) => {
    const srv = await publishServerFor(t, { publisher: { pingIntervalMs: 500 } });
    const dead = await clientFor(t, srv);
    const alive = await clientFor(t, srv);
    dead.ws.pause(); // a hung peer: reads nothing, so never pongs
    for (let i = 0; i < 200 && srv.publisher.clientCount > 1; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(srv.publisher.clientCount, 1, 'the silent client was dropped');
    dead.ws.resume();
    await dead.closed;
    // The answering client went through the same ping rounds and still gets frames.
    srv.publisher.publish(maskResult('cam1', 1, mask(0), W, H));
    assert.equal((await alive.nextMask()).seq, 1);
  });

  it('refuses WebSocket upgrades on any other path with 404', guard, async (t) => {
    const srv = await publishServerFor(t);
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/other`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('upgrade accepted on /other')));
      ws.on('error', () => undefined);
    });
    assert.equal(status, 404);
  });
});
