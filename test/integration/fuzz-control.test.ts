// Fuzzing the WebSocket control protocol, in process over real sockets: thousands of malformed,
// oversized and out-of-order messages from one client, while another keeps receiving masks. Every
// message gets exactly one well-formed reply, every refusal is counted, and the publisher stays
// healthy. Then the limits: clients in total, subscriptions per client, message size, and a
// client that sends requests but never reads the replies.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import type { ServerMessage } from '../../clients/ts/protocol-client.js';
import type { WsPublisherOptions } from '../../pipeline/publish/ws-publisher.js';
import { metricValue } from '../helpers/e2e-client.js';
import { Prng, fuzzSeed } from '../helpers/prng.js';
import { clientFor, maskResult, publishServerFor, streamInfo, type PublishServer } from '../helpers/publish-harness.js';

const W = 16;
const H = 8;
const MASK = new Uint8Array(W * H).fill(1);
const STREAMS = ['cam1', 'cam2', 'cam3'];
const MAX_MESSAGE_BYTES = 4096;
const ERROR_CODES = ['not_text', 'too_large', 'bad_json', 'bad_message', 'bad_type', 'bad_field', 'unknown_stream', 'too_many_subscriptions', 'internal_error'];
const REPLY_TYPES = ['error', 'subscription', 'streams', 'model_card'];
const guard = { timeout: 120_000 };
/** Messages the fuzzer sends: env SEGD_FUZZ_MESSAGES (a multiple of 200) for a long run, e.g. 100000. */
const FUZZ_MESSAGES = Number(process.env['SEGD_FUZZ_MESSAGES'] ?? 4000);

function setup(t: TestContext, publisher: Partial<WsPublisherOptions> = {}): Promise<PublishServer> {
  return publishServerFor(t, { streams: STREAMS.map((s) => streamInfo(s, W, H)), publisher: { maxMessageBytes: MAX_MESSAGE_BYTES, ...publisher } });
}

async function refused(srv: PublishServer, reason: string): Promise<number> {
  return metricValue(await srv.metrics.render(), 'segd_requests_refused_total', { reason }) ?? 0;
}

/** One fuzz message: text or binary, mostly wrong, sometimes valid (in any order). */
function fuzzMessage(r: Prng): string | Buffer {
  const ids = [...STREAMS, 'cam9', '', 'x'.repeat(300), '__proto__'];
  const values: unknown[] = [null, true, 0, -1, 1e308, 'raw', 'png', 'deflate', 'jpeg', [], {}, ['cam1'], [1, 2], 'cam1'];
  const anyValue = (): unknown => r.pick(values);
  switch (r.int(12)) {
    case 0:
      return r.bytes(r.int(64)); // binary
    case 1:
      return r.text(r.int(80)); // not JSON (invalid UTF-8 surrogates included)
    case 2:
      return JSON.stringify(anyValue()); // JSON, not an object
    case 3: {
      const valid = JSON.stringify({ type: 'subscribe', streams: ['cam1', 'cam2'] });
      return valid.slice(0, r.int(valid.length)); // truncated
    }
    case 4:
      return 'x'.repeat(MAX_MESSAGE_BYTES + 1 + r.int(MAX_MESSAGE_BYTES)); // over the limit, under 1 MiB
    case 5:
      return JSON.stringify({ type: r.pick(['subscribe', 'unsubscribe', 'encoding', 'list_streams', 'model_card', 'hello', 'SUBSCRIBE', 7, null]), [r.pick(['streams', 'encoding', 'foo', '__proto__', 'constructor'])]: anyValue() });
    case 6:
      return JSON.stringify({ type: r.pick(['subscribe', 'unsubscribe']), streams: Array.from({ length: r.int(300) }, () => r.pick(ids)) });
    case 7:
      return '{"type":"subscribe","__proto__":{"polluted":1},"streams":["cam1"]}';
    case 8: {
      // Deep nesting, up to depth 100,000 (within MAX_MESSAGE_BYTES where it fits, else too_large).
      const depth = r.pick([10, 40, 500, 5000, 100_000]);
      return r.pick([
        `{"type":"encoding","encoding":${'['.repeat(depth)}${']'.repeat(depth)}}`,
        `{"type":"subscribe","streams":${'['.repeat(depth)}"cam1"${']'.repeat(depth)}}`,
        '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
        `{"type":"preview","enabled":true,"maxFps":${r.pick(['1e999999', '-0', '9'.repeat(400)])},"width":640}`,
      ]);
    }
    case 9:
      return JSON.stringify({ type: 'encoding', encoding: r.pick(['raw', 'png', 'deflate']) }); // valid
    case 10:
      return JSON.stringify({ type: r.pick(['subscribe', 'unsubscribe']), streams: [r.pick(STREAMS)] }); // valid, any order
    default:
      return JSON.stringify({ type: r.pick(['list_streams', 'model_card']) }); // valid
  }
}

function checkReply(m: ServerMessage, i: number): boolean {
  assert.ok(REPLY_TYPES.includes(m.type), `reply ${i}: type ${m.type}`);
  if (m.type !== 'error') return false;
  assert.ok(ERROR_CODES.includes(m.code), `reply ${i}: code ${m.code}`);
  assert.equal(typeof m.message, 'string');
  assert.ok(m.message.length < 1000, `reply ${i}: the error does not echo the payload (${m.message.length} chars)`);
  return true;
}

describe('fuzz: WebSocket control protocol', () => {
  it('thousands of malformed and out-of-order messages: one reply each, nothing else disturbed', { timeout: Math.max(120_000, FUZZ_MESSAGES * 30) }, async (t) => {
    const seed = fuzzSeed(20261123);
    t.diagnostic(`seed ${seed} (SEGD_FUZZ_SEED)`);
    const r = new Prng(seed);
    const srv = await setup(t);
    const watcher = await clientFor(t, srv);
    const fuzzer = await clientFor(t, srv);

    let seq = 0;
    const pump = setInterval(() => {
      for (const id of STREAMS) srv.publisher.publish(maskResult(id, seq, MASK, W, H));
      seq++;
    }, 5);
    t.after(() => clearInterval(pump));

    const TOTAL = FUZZ_MESSAGES;
    const BATCH = 200;
    let errors = 0;
    for (let sent = 0; sent < TOTAL; sent += BATCH) {
      for (let i = 0; i < BATCH; i++) fuzzer.send(fuzzMessage(r));
      for (let i = 0; i < BATCH; i++) if (checkReply(await fuzzer.nextText(20_000), sent + i)) errors++;
    }
    assert.ok(errors > TOTAL / 2, `mostly errors (${errors})`);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'no prototype pollution');
    assert.equal(srv.publisher.clientCount, 2);

    // Every error reply was counted as a refusal.
    const counted = (await refused(srv, 'bad_message')) + (await refused(srv, 'message_too_large'));
    assert.equal(counted, errors);

    // The fuzzer's connection still works; the watcher still receives every stream.
    const reply = await fuzzer.request({ type: 'subscribe', streams: ['cam2'] });
    assert.equal(reply.type, 'subscription');
    clearInterval(pump);
    while (watcher.masks.length > 0) await watcher.nextMask();
    for (const id of STREAMS) srv.publisher.publish(maskResult(id, 1_000_000, MASK, W, H));
    const got = new Set<string>();
    while (got.size < STREAMS.length) {
      const m = await watcher.nextMask(10_000);
      if (m.seq === 1_000_000) got.add(m.streamId);
    }
  });

  it('deeply nested messages (depth 5,000 … 100,000) get bad_json; the process and other clients carry on', guard, async (t) => {
    // Issue 28 F1: one 10 KB `[[[…]]]` message used to overflow the stack in the error text and stop the process.
    const srv = await setup(t, { maxMessageBytes: 256 * 1024 });
    const watcher = await clientFor(t, srv);
    const fuzzer = await clientFor(t, srv);
    const nest = (depth: number, inner = ''): string => '['.repeat(depth) + inner + ']'.repeat(depth);
    const attacks = [
      nest(5000),
      `{"type":"subscribe","streams":${nest(5000, '"cam1"')}}`,
      `{"type":"encoding","encoding":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`,
      nest(100_000),
      '['.repeat(100_000), // unbalanced
      `{"type":"preview","enabled":true,"maxFps":1e999999,"width":${'9'.repeat(5000)}}`,
    ];
    let seq = 0;
    for (const [i, attack] of attacks.entries()) {
      fuzzer.send(attack);
      const reply = await fuzzer.nextText(20_000);
      assert.ok(checkReply(reply, i), `attack ${i}: an error reply, got ${reply.type}`);
      assert.equal(reply.type === 'error' ? reply.code : '', i === attacks.length - 1 ? 'bad_field' : 'bad_json', `attack ${i}`);
      // The other client still gets every mask published after the attack.
      srv.publisher.publish(maskResult('cam1', seq, MASK, W, H));
      assert.equal((await watcher.nextMask(10_000)).seq, seq++);
    }
    assert.equal(srv.publisher.clientCount, 2);
    assert.equal((await fuzzer.request({ type: 'list_streams' })).type, 'streams', 'the attacker\'s own connection still works');
  });

  it('publish.maxClients: one more client is told too_many_clients and closed with 1013', guard, async (t) => {
    const srv = await setup(t, { maxClients: 2 });
    const a = await clientFor(t, srv);
    await clientFor(t, srv);
    const extra = await clientFor(t, srv).catch((e: unknown) => e);
    // TestClient.connect expects hello first: the refused one gets the error instead.
    assert.ok(extra instanceof Error, 'the third client gets no hello');
    assert.equal(await refused(srv, 'too_many_clients'), 1);
    assert.equal(srv.publisher.clientCount, 2);
    // Seen from a raw client: the error reply, then close 1013.
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(srv.wsUrl);
    const texts: string[] = [];
    ws.on('message', (d) => texts.push(String(d)));
    const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
    assert.equal(code, 1013);
    const first = JSON.parse(texts[0] ?? '{}') as { type?: string; code?: string };
    assert.deepEqual([first.type, first.code], ['error', 'too_many_clients']);
    // A slot frees when a client leaves.
    await a.close();
    await pollClients(srv, 1);
    await clientFor(t, srv);
  });

  it('publish.maxClientsPerAddress: one address cannot take every slot; another address still gets in (issue 28 F9)', guard, async (t) => {
    const srv = await setup(t, { maxClients: 10, maxClientsPerAddress: 2 });
    await clientFor(t, srv);
    await clientFor(t, srv);
    const { WebSocket } = await import('ws');
    const open = (localAddress: string): Promise<{ code: number; texts: string[] }> =>
      new Promise((resolve) => {
        const ws = new WebSocket(srv.wsUrl, { localAddress });
        const texts: string[] = [];
        ws.on('message', (d) => {
          texts.push(String(d));
          if (texts.length === 1 && texts[0]?.includes('"hello"')) ws.close(1000);
        });
        ws.on('close', (code) => resolve({ code, texts }));
      });
    const third = await open('127.0.0.1');
    assert.equal(third.code, 1013);
    const reply = JSON.parse(third.texts[0] ?? '{}') as { code?: string; expected?: string };
    assert.equal(reply.code, 'too_many_clients');
    assert.match(String(reply.expected), /publish\.maxClientsPerAddress/);
    assert.equal(await refused(srv, 'too_many_clients'), 1);
    // The whole of 127/8 is loopback: 127.0.0.2 is another address, and gets its hello.
    const other = await open('127.0.0.2');
    assert.equal(other.code, 1000);
    assert.match(other.texts[0] ?? '', /"hello"/);
  });

  it('publish.maxSubscriptionsPerClient: a subscribe over the limit is refused as a whole', guard, async (t) => {
    const srv = await setup(t, { maxSubscriptionsPerClient: 2 });
    const c = await clientFor(t, srv);
    const ok = await c.request({ type: 'subscribe', streams: ['cam1', 'cam2'] });
    assert.deepEqual(ok.type === 'subscription' ? ok.streams : null, ['cam1', 'cam2']);
    const no = await c.request({ type: 'subscribe', streams: ['cam3'] });
    assert.equal(no.type, 'error');
    assert.equal(no.type === 'error' ? no.code : '', 'too_many_subscriptions');
    const same = await c.request({ type: 'encoding', encoding: 'raw' });
    assert.deepEqual(same.type === 'subscription' ? same.streams : null, ['cam1', 'cam2'], 'unchanged');
    // Re-subscribing to held streams does not count twice.
    assert.equal((await c.request({ type: 'subscribe', streams: ['cam1'] })).type, 'subscription');
    assert.equal(await refused(srv, 'too_many_subscriptions'), 1);
  });

  it('a message over 1 MiB closes that connection (1009), counted; others unaffected', guard, async (t) => {
    const srv = await setup(t);
    const other = await clientFor(t, srv);
    const big = await clientFor(t, srv);
    big.send('x'.repeat(1024 * 1024 + 1));
    assert.equal((await big.closed).code, 1009);
    assert.equal(await refused(srv, 'message_too_large'), 1);
    assert.equal((await other.request({ type: 'list_streams' })).type, 'streams');
  });

  it('a client that sends requests but never reads the replies is cut off (slow_reader)', guard, async (t) => {
    // A 64 KiB model card makes each reply large; the client reads nothing, so unsent replies pile up.
    const card = { name: 'test-model', filler: 'f'.repeat(64 * 1024) };
    const srv = await setup(t, { maxBufferedBytes: 64 * 1024, modelCard: card });
    const other = await clientFor(t, srv);
    const sock = await rawWsClient(srv.port);
    t.after(() => sock.destroy());
    sock.pause(); // never read
    const frame = maskedTextFrame('{"type":"model_card"}');
    for (let i = 0; i < 600; i++) sock.write(frame);
    await pollUntilTrue(async () => (await refused(srv, 'slow_reader')) >= 1, 'the slow reader refused');
    await pollClients(srv, 1);
    assert.equal((await other.request({ type: 'list_streams' })).type, 'streams');
  });
});

async function pollUntilTrue(cond: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function pollClients(srv: PublishServer, n: number): Promise<void> {
  return pollUntilTrue(async () => srv.publisher.clientCount === n, `${n} client(s)`);
}

/** A WebSocket handshake on a bare TCP socket (so the test controls reading). */
function rawWsClient(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => {
      sock.write(
        'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    sock.on('error', () => undefined);
    let head = '';
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      sock.off('data', onData);
      if (head.startsWith('HTTP/1.1 101')) resolve(sock);
      else reject(new Error(`handshake: ${head.split('\r\n')[0]}`));
    };
    sock.on('data', onData);
  });
}

/** A client→server text frame (clients must mask; payload < 126 bytes). */
function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const key = Buffer.from([1, 2, 3, 4]);
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x81;
  out[1] = 0x80 | payload.length;
  key.copy(out, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = (payload[i] as number) ^ (key[i % 4] as number);
  return out;
}
