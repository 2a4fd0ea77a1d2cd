// Fuzzing the config loader: random mutations of a valid YAML file (bytes flipped, cut, inserted,
// lines duplicated or dropped, values swapped for other types, YAML syntax injected: anchors,
// aliases, tags, flow collections) must each give either a valid config or a SegdError with code
// SEGD_CONFIG_INVALID / SEGD_CONFIG_UNREADABLE whose message names the file — never a crash or
// another kind of exception. Also the bearer-token resolution (env, files, config).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, before, after } from 'node:test';
import { parseConfigText } from '../../daemon/config/load.js';
import { parseStreamInput } from '../../daemon/config/stream-input.js';
import { parseBoundedJson } from '../../pipeline/core/bounded-json.js';
import { resolveToken } from '../../daemon/config/token.js';
import { SegdError } from '../../pipeline/core/errors.js';
import { makeTempDir } from '../helpers/daemon.js';
import { BUNDLED_SAMPLE_CLIP } from '../helpers/paths.js';
import { Prng, fuzzSeed } from '../helpers/prng.js';

const VALID = `server:
  host: 127.0.0.1
  port: 8080
log:
  level: info
model:
  path: models/sctnet-s-camvid.onnx
  providers: [tensorrt, cuda, cpu]
  cpu:
    intraOpThreads: 2
batching:
  maxBatch: 2
  maxDelayMs: 15
publish:
  maxBufferedBytes: 4194304
  maxClients: 8
streams:
  - id: cam1
    url: ${BUNDLED_SAMPLE_CLIP}
    loop: true
  - id: cam2
    url: rtsp://user:pw@10.0.0.5:554/s1
    rtspTransport: udp
    expectedFps: 25
`;

const INJECTIONS = [
  '&a ', '*a', '!!binary ', '!!js/function ', '{', '}', '[', ']', ': ', '- ', '? ', '|', '>', '#', '"', "'", '\t', '\n', '%YAML 1.2\n',
  '---\n', '...\n', '<<: *a\n', 'null', '~', '1e999', '-1', '0x10', 'NaN', '.inf', 'true', '\u0000', '\ufeff', '\ud83d\ude00',
];

function mutate(text: string, r: Prng): string {
  let out = text;
  const n = 1 + r.int(4);
  for (let k = 0; k < n; k++) {
    const at = r.int(out.length + 1);
    const lines = out.split('\n');
    switch (r.int(7)) {
      case 0: // flip a byte
        out = out.slice(0, at) + String.fromCharCode(r.int(128)) + out.slice(at + 1);
        break;
      case 1: // cut a span
        out = out.slice(0, at) + out.slice(at + r.int(40));
        break;
      case 2: // inject YAML syntax
        out = out.slice(0, at) + r.pick(INJECTIONS) + out.slice(at);
        break;
      case 3: { // duplicate a line (duplicate keys, duplicate stream ids)
        const i = r.int(lines.length);
        lines.splice(i, 0, lines[i] ?? '');
        out = lines.join('\n');
        break;
      }
      case 4: // drop a line
        lines.splice(r.int(lines.length), 1);
        out = lines.join('\n');
        break;
      case 5: { // replace a value with another type
        const i = r.int(lines.length);
        const line = lines[i] ?? '';
        const colon = line.indexOf(': ');
        if (colon > 0) lines[i] = `${line.slice(0, colon + 2)}${r.pick(['[]', '{}', '-5', '99999999999', '""', 'null', 'yes', '[1, [2, [3]]]', "'x'", 'ftp://a@b/c', '/nonexistent.mp4'])}`;
        out = lines.join('\n');
        break;
      }
      default: // truncate
        out = out.slice(0, at);
    }
  }
  return out;
}

describe('fuzz: config loader', () => {
  it('random mutations of a valid file: a config or SEGD_CONFIG_INVALID/UNREADABLE, nothing else', { timeout: 120_000 }, (t) => {
    const seed = fuzzSeed(424242);
    t.diagnostic(`seed ${seed} (SEGD_FUZZ_SEED)`);
    const r = new Prng(seed);
    const opts = { baseDir: '/etc/segd', source: '/etc/segd/fuzz.yaml' };
    assert.ok(parseConfigText(VALID, opts), 'the seed file is valid');
    const outcomes = { valid: 0, SEGD_CONFIG_INVALID: 0, SEGD_CONFIG_UNREADABLE: 0 };
    const N = 2000;
    for (let i = 0; i < N; i++) {
      const text = mutate(VALID, r);
      try {
        parseConfigText(text, opts);
        outcomes.valid++;
      } catch (err) {
        if (!(err instanceof SegdError) || (err.code !== 'SEGD_CONFIG_INVALID' && err.code !== 'SEGD_CONFIG_UNREADABLE')) {
          assert.fail(`mutation ${i} threw ${String(err)}\n--- input ---\n${text}`);
        }
        assert.ok(err.message.includes(opts.source), `mutation ${i}: the message names the file: ${err.message}`);
        assert.ok(!err.message.includes('user:pw@'), `mutation ${i}: credentials redacted: ${err.message}`);
        outcomes[err.code]++;
      }
    }
    t.diagnostic(JSON.stringify(outcomes));
    // Not vacuous: the mutations reach both failure kinds and sometimes stay valid.
    assert.ok(outcomes.valid > 0 && outcomes.SEGD_CONFIG_INVALID > 0 && outcomes.SEGD_CONFIG_UNREADABLE > 0, JSON.stringify(outcomes));
  });

  it('hostile values: nesting to depth 100,000, huge and tiny numbers, device paths, secrets of any YAML type (issue 28)', () => {
    const opts = { baseDir: '/etc/segd', source: '/etc/segd/hostile.yaml' };
    const stream = 'streams: [{ id: a, url: rtsp://h/x }]';
    const nest = (d: number): string => '['.repeat(d) + ']'.repeat(d);
    const cases: [string, string | null][] = [];
    for (const d of [10, 1000, 100_000]) {
      cases.push([`streams: ${nest(d)}`, null], [`log: { level: ${'{a: '.repeat(d)}1${'}'.repeat(d)} }\n${stream}`, null]);
    }
    for (const n of ['1e999', '-1e999', '1e-300', '9'.repeat(400), '0x7fffffffffffffff', '.nan']) {
      cases.push([`streams: [{ id: a, url: rtsp://h/x, maxFps: ${n}, expectedFps: ${n}, queueDepth: ${n} }]`, null]);
      cases.push([`server: { port: ${n} }\n${stream}`, null]);
    }
    for (const dev of ['/dev/zero', '/dev/ptmx', '/proc/self/environ', '/sys/kernel/notes', 'file:///dev/urandom', '/etc/passwd']) {
      cases.push([`streams: [{ id: a, url: ${JSON.stringify(dev)} }]`, null]);
    }
    // Secrets written as numbers, booleans, lists, binary: refused without the value.
    for (const v of ['987654321', '98765432109876543210', 'true', '[987654321]', '{ a: 987654321 }', '!!binary OTg3NjU0MzIx']) {
      cases.push([`mqtt: { url: "mqtt://h", password: ${v} }\n${stream}`, '987654321'], [`server: { token: ${v} }\n${stream}`, '987654321']);
    }
    for (const [text, secret] of cases) {
      try {
        parseConfigText(text, opts);
        assert.fail(`accepted: ${text.slice(0, 200)}`);
      } catch (err) {
        assert.ok(err instanceof SegdError && (err.code === 'SEGD_CONFIG_INVALID' || err.code === 'SEGD_CONFIG_UNREADABLE'), `${text.slice(0, 100)}: ${String(err)}`);
        assert.ok(err.message.includes(opts.source), err.message);
        assert.ok(err.message.length < 4000, `a short message (${err.message.length} chars)`);
        if (secret !== null) assert.ok(!err.message.includes(secret) && !err.message.includes('OTg3NjU0MzIx'), `secret echoed: ${err.message}`);
      }
    }
    const binary = configErrorOf(() => parseConfigText(`mqtt: { url: "mqtt://h", password: !!binary aGVsbG8= }\n${stream}`, opts));
    assert.match(binary.message, /mqtt\.password: expected a plain YAML scalar, mapping or sequence, got a !!binary value/);
    assert.ok(!binary.message.includes('readBigUInt64LE'), 'one clear error, not the Buffer\'s methods');
    const tiny = configErrorOf(() => parseConfigText('streams: [{ id: a, url: rtsp://h/x, maxFps: 1e-300 }]', opts));
    assert.deepEqual(tiny.details, ['streams[0].maxFps: expected a number >= 0.1, got 1e-300']);
  });

  it('an alias bomb is refused as SEGD_CONFIG_UNREADABLE, quickly', () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    const text = `${levels.join('\n')}\nstreams: *i\n`;
    assert.throws(
      () => parseConfigText(text, { baseDir: '/tmp', source: 'bomb.yaml' }),
      (err: unknown) => err instanceof SegdError && err.code === 'SEGD_CONFIG_UNREADABLE',
    );
  });
});

describe('bearer token resolution', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  before(() => (tmp = makeTempDir('segd-token-')));
  after(() => tmp.cleanup());

  const base = (server: Record<string, unknown> = {}): ReturnType<typeof parseConfigText> =>
    parseConfigText(JSON.stringify({ server, streams: [{ id: 'c', url: BUNDLED_SAMPLE_CLIP }] }), { baseDir: tmp.dir, source: 't.yaml' });
  const TOKEN = 'abcdefghijklmnop-1234';

  it('none configured → null (open)', () => {
    assert.equal(resolveToken(base(), {}).server.token, null);
  });

  it('config token, token file (relative to the config, trailing newline ignored), env file, env — env wins', () => {
    writeFileSync(join(tmp.dir, 'tok'), `${TOKEN}-file\n`);
    writeFileSync(join(tmp.dir, 'tok2'), `${TOKEN}-envfile`);
    assert.equal(resolveToken(base({ token: TOKEN }), {}).server.token, TOKEN);
    assert.equal(resolveToken(base({ tokenFile: 'tok' }), {}).server.token, `${TOKEN}-file`);
    assert.equal(resolveToken(base({ tokenFile: 'tok' }), { SEGD_TOKEN_FILE: join(tmp.dir, 'tok2') }).server.token, `${TOKEN}-envfile`);
    assert.equal(resolveToken(base({ token: TOKEN }), { SEGD_TOKEN: `${TOKEN}-env`, SEGD_TOKEN_FILE: join(tmp.dir, 'tok2') }).server.token, `${TOKEN}-env`);
  });

  it('bad tokens are SEGD_CONFIG_INVALID naming their source, without echoing the token', () => {
    const invalid = (fn: () => unknown, source: string): void =>
      assert.throws(fn, (err: unknown) => {
        assert.ok(err instanceof SegdError && err.code === 'SEGD_CONFIG_INVALID', String(err));
        assert.ok(err.message.includes(source), err.message);
        assert.ok(!err.message.includes('short-one'), 'the token is not echoed');
        return true;
      });
    invalid(() => resolveToken(base({ token: 'short-one' }), {}), 'server.token');
    invalid(() => resolveToken(base(), { SEGD_TOKEN: 'short-one' }), 'SEGD_TOKEN');
    invalid(() => resolveToken(base(), { SEGD_TOKEN: `${TOKEN} with spaces` }), 'SEGD_TOKEN');
    invalid(() => resolveToken(base({ tokenFile: 'absent' }), {}), 'server.tokenFile');
    invalid(() => resolveToken(base({ token: TOKEN, tokenFile: 'tok' }), {}), 'server.tokenFile');
  });

  it('beyond loopback without a token: refused, naming server.host, unless allowUnauthenticated says it is meant', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.20', 'cam-box.lan']) {
      assert.throws(
        () => resolveToken(base({ host }), {}),
        (err: unknown) =>
          err instanceof SegdError &&
          err.code === 'SEGD_CONFIG_INVALID' &&
          err.message.startsWith(`server.host: ${host} is reachable beyond this machine, and no bearer token is set`) &&
          err.message.includes('server.allowUnauthenticated: true'),
        host,
      );
      assert.equal(resolveToken(base({ host, token: TOKEN }), {}).server.token, TOKEN);
      assert.equal(resolveToken(base({ host }), { SEGD_TOKEN: TOKEN }).server.token, TOKEN);
      assert.equal(resolveToken(base({ host, allowUnauthenticated: true }), {}).server.token, null);
    }
    for (const host of ['127.0.0.1', '127.0.1.1', '::1', 'localhost']) assert.equal(resolveToken(base({ host }), {}).server.token, null, host);
  });
});

function configErrorOf(fn: () => unknown): SegdError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SegdError) return err;
    throw err;
  }
  throw new Error('expected a SegdError');
}

/** One generated API body (text): mostly a mutated stream, sometimes deep, huge or hostile. */
function apiBody(r: Prng): string {
  const nest = (d: number, inner: string): string => '['.repeat(d) + inner + ']'.repeat(d);
  switch (r.int(8)) {
    case 0: {
      const d = r.pick([1, 31, 32, 33, 500, 5000, 100_000]);
      return r.pick([nest(d, ''), `{"id":"a","url":"rtsp://h/x","zones":${nest(d, '0')}}`, '{"a":'.repeat(d) + '1' + '}'.repeat(d), '['.repeat(d)]);
    }
    case 1:
      return `{"id":"a","url":"rtsp://h/x","maxFps":${r.pick(['1e999', '-1e999', '1e-300', '9'.repeat(400), '-0', '0.1', '240.0000001'])}}`;
    case 2:
      return JSON.stringify({ id: 'a', url: r.pick(['/dev/zero', '/dev/ptmx', '/proc/self/environ', 'file:///etc/passwd', '/etc/segd/../../etc/shadow', '/etc/segd/clip.mp4', 'concat:/a|/b', '-i', 'pipe:0']) });
    case 3:
      return r.pick(['null', 'true', '1', '"x"', '[]', '{}', '', ' ', '{"__proto__":{"polluted":1},"id":"a","url":"rtsp://h/x"}']);
    default: {
      const valid = JSON.stringify({ id: 'cam', url: 'rtsp://u:p@h/x', maxFps: 5, zones: [{ name: 'z', polygon: [[0, 0], [1, 0], [1, 1]], classes: ['car'] }] });
      const at = r.int(valid.length);
      return r.int(2) === 0 ? valid.slice(0, at) + String.fromCharCode(r.int(128)) + valid.slice(at + 1) : valid.slice(0, at);
    }
  }
}

describe('fuzz: control API bodies (parse and stream validation, as the API runs them)', () => {
  it('100,000 generated bodies incl. depth up to 100,000: a stream, a depth/JSON refusal or SEGD_CONFIG_INVALID, nothing else', { timeout: 300_000 }, (t) => {
    const seed = fuzzSeed(28_2026);
    t.diagnostic(`seed ${seed} (SEGD_FUZZ_SEED)`);
    const r = new Prng(seed);
    const outcomes = { stream: 0, refusedJson: 0, invalid: 0 };
    for (let i = 0; i < 100_000; i++) {
      const text = apiBody(r);
      const json = parseBoundedJson(text);
      if (!json.ok) {
        assert.ok(json.problem.length < 200 && !json.problem.includes('hunter2'), json.problem);
        outcomes.refusedJson++;
        continue;
      }
      try {
        parseStreamInput(json.value, '/etc/segd', 'api', ['/etc/segd']);
        outcomes.stream++;
      } catch (err) {
        if (!(err instanceof SegdError) || err.code !== 'SEGD_CONFIG_INVALID') assert.fail(`body ${i} threw ${String(err)}\n${text.slice(0, 300)}`);
        assert.ok(!err.message.includes('u:p@'), `credentials redacted: ${err.message}`);
        outcomes.invalid++;
      }
    }
    t.diagnostic(JSON.stringify(outcomes));
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'no prototype pollution');
    assert.ok(outcomes.stream > 0 && outcomes.refusedJson > 0 && outcomes.invalid > 0, JSON.stringify(outcomes));
  });
});
