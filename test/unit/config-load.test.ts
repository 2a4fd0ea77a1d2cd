// Config loading: YAML + ajv validation (every violation at once), defaults, unknown keys,
// stream URL checks, relative path resolution, and the shipped config files.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { loadConfigFile, parseConfigText } from '../../daemon/config/load.js';
import { SegdError } from '../../pipeline/core/errors.js';
import { REPO_ROOT, BUNDLED_SAMPLE_CLIP } from '../helpers/paths.js';
import { makeTempDir, writeConfig } from '../helpers/daemon.js';

function configError(fn: () => unknown): SegdError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SegdError, `expected a SegdError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the config to be rejected');
}

describe('config loading', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  before(() => (tmp = makeTempDir('segd-config-')));
  after(() => tmp.cleanup());

  it('applies every default to a file that only lists streams', () => {
    const path = writeConfig(tmp.dir, `streams:\n  - id: cam1\n    url: ${BUNDLED_SAMPLE_CLIP}\n`, 'minimal.yaml');
    const cfg = loadConfigFile(path);
    assert.deepEqual(cfg, {
      server: { host: '127.0.0.1', port: 8080, token: null, tokenFile: null, allowUnauthenticated: false, allowedOrigins: [], maxConnections: 256 },
      log: { level: 'info' },
      ffmpeg: { path: null, threads: 1 },
      model: {
        // Relative to the config file's directory.
        path: join(tmp.dir, 'models', 'sctnet-s-lite0-camvid-int8.onnx'),
        engine: 'local',
        card: null,
        triton: null,
        providers: ['tensorrt', 'cuda', 'cpu'],
        sessions: 2,
        cpu: { intraOpThreads: 1, interOpThreads: 1, allowSpinning: false },
        warmupRuns: 2,
      },
      batching: { maxBatch: 2, maxDelayMs: 0, perStreamCap: 1 },
      publish: { maxBufferedBytes: 4194304, maxClients: 64, maxClientsPerAddress: 32, maxSubscriptionsPerClient: 64, maxMessageBytes: 65536 },
      mqtt: null,
      kafka: null,
      sources: { allowedDirs: [] },
      api: { persist: false },
      streams: [
        {
          id: 'cam1',
          url: BUNDLED_SAMPLE_CLIP,
          loop: true,
          realtime: true,
          rtspTransport: 'tcp',
          expectedFps: 10,
          maxFps: null,
          queueDepth: 1,
          zones: [],
        },
      ],
    });
  });

  it('resolves relative model, card, ffmpeg and file paths against the config directory', () => {
    const text = [
      'ffmpeg: { path: bin/ffmpeg }',
      'model: { path: m/x.onnx, card: m/x-card.json }',
      'sources: { allowedDirs: [/srv/videos, clips] }',
      'streams:',
      `  - { id: a, url: ${JSON.stringify(BUNDLED_SAMPLE_CLIP)} }`,
      `  - { id: b, url: rtsp://10.0.0.5/s1 }`,
    ].join('\n');
    const cfg = parseConfigText(text, { baseDir: '/etc/segd', source: 'inline' });
    assert.equal(cfg.ffmpeg.path, '/etc/segd/bin/ffmpeg');
    assert.equal(cfg.model.path, '/etc/segd/m/x.onnx');
    assert.equal(cfg.model.card, '/etc/segd/m/x-card.json');
    assert.equal(cfg.streams[1]?.url, 'rtsp://10.0.0.5/s1');
    assert.deepEqual(cfg.sources.allowedDirs, ['/srv/videos', '/etc/segd/clips']);
    // A bare command name stays a PATH lookup.
    const bare = parseConfigText(`ffmpeg: { path: ffmpeg }\nstreams: [{ id: a, url: rtsp://h/x }]`, { baseDir: '/x', source: 'inline' });
    assert.equal(bare.ffmpeg.path, 'ffmpeg');
  });

  it('lists every violation of a file with several errors at once, each naming its field', () => {
    const text = [
      'server: { host: 127.0.0.1, port: "eighty", protocol: http }',
      'log: { level: verbose }',
      'batching: { maxBatch: 0 }',
      'modle: { path: x.onnx }',
      'streams:',
      '  - { id: cam1, url: rtsp://10.0.0.5/a }',
      '  - { url: rtsp://10.0.0.5/b }',
      '  - { id: cam3, url: "ftp://admin:hunter2@10.0.0.5/c" }',
      '  - { id: cam1, url: rtsp://10.0.0.5/d, queueDepth: 100 }',
      '  - { id: "bad id!", url: rtsp://10.0.0.5/e }',
    ].join('\n');
    const err = configError(() => parseConfigText(text, { baseDir: tmp.dir, source: 'several.yaml' }));
    assert.equal(err.code, 'SEGD_CONFIG_INVALID');
    const expectFields = [
      'server.port: expected an integer',
      'server.protocol: unknown key',
      'log.level: expected one of',
      'batching.maxBatch: expected a number >= 1',
      'modle: unknown key',
      'streams[1].id: required key is missing',
      'streams[2].url: ',
      'streams[3].queueDepth: expected a number <= 16',
      'streams[3].id: expected a unique id, "cam1" is already used by streams[0]',
      'streams[4].id: expected a string matching',
    ];
    for (const f of expectFields) {
      assert.ok(
        err.details.some((d) => d.startsWith(f)),
        `missing a violation starting with "${f}" in:\n${err.details.join('\n')}`,
      );
    }
    assert.equal(err.details.length, expectFields.length, err.details.join('\n'));
    // The message carries every violation too (that is what the CLI prints).
    for (const d of err.details) assert.ok(err.message.includes(d));
    // Credentials in a bad URL are never echoed.
    assert.ok(!err.message.includes('hunter2'), err.message);
  });

  it('says what was expected and what was found', () => {
    const err = configError(() =>
      parseConfigText('server: { port: "eighty" }\nlog: { level: verbose }\nstreams: [{ id: a, url: rtsp://h/x }]', {
        baseDir: tmp.dir,
        source: 'x.yaml',
      }),
    );
    assert.ok(err.details.includes('server.port: expected an integer, got "eighty"'), err.details.join('\n'));
    assert.ok(
      err.details.includes('log.level: expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got "verbose"'),
      err.details.join('\n'),
    );
  });

  it('refuses model.tensorrt with the reason it cannot take effect, once, beside the other problems', () => {
    const text = 'model: { tensorrt: { fp16: true, engineCacheDir: /var/cache/segd } }\nbatching: { maxBatch: 0 }\nstreams: [{ id: a, url: rtsp://h/x }]';
    const err = configError(() => parseConfigText(text, { baseDir: '/x', source: 'inline' }));
    const trt = err.details.filter((d) => d.includes('tensorrt'));
    assert.equal(trt.length, 1, err.message);
    assert.match(trt[0] as string, /^model\.tensorrt: no longer accepted: it cannot take effect .*ORT_TENSORRT_\*.*fp16 model/);
    assert.ok(err.details.some((d) => d.startsWith('batching.maxBatch')), 'the other problems are still listed');
  });

  it('model.engine triton: needs model.triton, resolves its TLS paths, and names each inconsistent field', () => {
    const ok = parseConfigText(
      'model: { engine: triton, triton: { url: "grpcs://triton.lan:8001", model: seg, tls: { ca: pki/ca.pem }, headers: { authorization: "Bearer x" } } }\nstreams: [{ id: a, url: rtsp://h/x }]',
      { baseDir: '/etc/segd', source: 'inline' },
    );
    assert.equal(ok.model.engine, 'triton');
    assert.deepEqual(ok.model.triton, {
      url: 'grpcs://triton.lan:8001',
      model: 'seg',
      version: '',
      timeoutMs: 5000,
      maxInFlight: 2,
      tls: { ca: '/etc/segd/pki/ca.pem', cert: null, key: null },
      headers: { authorization: 'Bearer x' },
      reconnect: { minMs: 500, maxMs: 10000 },
    });
    const missing = configError(() => parseConfigText('model: { engine: triton }\nstreams: [{ id: a, url: rtsp://h/x }]', { baseDir: '/x', source: 'inline' }));
    assert.deepEqual(missing.details, ['model.triton: expected a mapping with at least url and model (model.engine is triton)']);
    const bad = configError(() =>
      parseConfigText(
        'model: { triton: { url: "tcp://h:8000", model: seg, tls: { cert: c.pem }, reconnect: { minMs: 5000, maxMs: 100 } } }\nstreams: [{ id: a, url: rtsp://h/x }]',
        { baseDir: '/x', source: 'inline' },
      ),
    );
    const text = bad.details.join('\n');
    assert.match(text, /model\.triton\.url: .*\(grpcs\?\|https\?\)/);
    assert.match(text, /model\.triton: set, but model\.engine is "local"/);
    assert.match(text, /model\.triton\.reconnect\.minMs: expected at most model\.triton\.reconnect\.maxMs \(100\), got 5000/);
    assert.match(text, /model\.triton\.tls\.cert and model\.triton\.tls\.key: expected both/);
    for (const [scheme, want] of [['http', 'https'], ['grpc', 'grpcs']]) {
      const plain = configError(() => parseConfigText(`model: { engine: triton, triton: { url: "${scheme}://h:8000", model: seg, tls: { ca: ca.pem } } }\nstreams: [{ id: a, url: rtsp://h/x }]`, { baseDir: '/x', source: 'inline' }));
      assert.deepEqual(plain.details, [`model.triton.tls: set, but model.triton.url is ${scheme}:// (plaintext); expected ${want}:// for TLS`]);
    }
    const https = parseConfigText('model: { engine: triton, triton: { url: "https://triton.lan", model: seg, tls: { ca: ca.pem } } }\nstreams: [{ id: a, url: rtsp://h/x }]', { baseDir: '/x', source: 'inline' });
    assert.equal(https.model.triton?.tls.ca, '/x/ca.pem');
  });

  it('model.triton.headers: a value is never echoed (auth tokens), a name that gRPC metadata cannot carry is refused', () => {
    const err = configError(() =>
      parseConfigText('model: { engine: triton, triton: { url: "grpc://h:8001", model: seg, headers: { authorization: 12345678, "x key": "Bearer sekrit-1", x-empty: "" } } }\nstreams: [{ id: a, url: rtsp://h/x }]', {
        baseDir: '/x',
        source: 'inline',
      }),
    );
    const text = err.details.join('\n');
    assert.match(text, /model\.triton\.headers\.authorization: expected a string \(quote it in YAML\), got a number \(not shown: a secret\)/);
    assert.match(text, /model\.triton\.headers\.x key: invalid name \(expected a name matching \^\[a-z0-9\]/);
    assert.match(text, /model\.triton\.headers\.x-empty: expected a non-empty string/);
    assert.ok(!/12345678|sekrit-1/.test(err.message), err.message);
  });

  it('rejects an unknown key and lists the allowed ones', () => {
    const err = configError(() => parseConfigText('streams: [{ id: a, url: rtsp://h/x, lopo: true }]', { baseDir: tmp.dir, source: 'x' }));
    assert.equal(err.details.length, 1);
    assert.match(err.details[0] ?? '', /^streams\[0\]\.lopo: unknown key \(expected one of: id, url, loop, realtime,/);
  });

  it('names the stream whose URL the sources reject, with the credentials redacted', () => {
    const text = 'streams:\n  - { id: a, url: rtsp://h/x }\n  - { id: b, url: rtsp://h/y }\n  - { id: c, url: "gopher://bob:s3cret@h/z" }\n';
    const err = configError(() => parseConfigText(text, { baseDir: tmp.dir, source: 'x' }));
    assert.equal(err.details.length, 1, err.details.join('\n'));
    assert.match(err.details[0] ?? '', /^streams\[2\]\.url: /);
    assert.ok(!(err.details[0] ?? '').includes('s3cret'), err.details[0]);
  });

  it('rejects a file stream whose file does not exist, naming the resolved path', () => {
    const err = configError(() => parseConfigText('streams: [{ id: a, url: videos/nope.mp4 }]', { baseDir: tmp.dir, source: 'x' }));
    assert.deepEqual(err.details, [`streams[0].url: expected an existing video file, ${join(tmp.dir, 'videos', 'nope.mp4')} does not exist`]);
  });

  it('requires at least one stream', () => {
    const err = configError(() => parseConfigText('streams: []', { baseDir: tmp.dir, source: 'x' }));
    assert.deepEqual(err.details, ['streams: expected at least 1 item(s), got 0']);
    const missing = configError(() => parseConfigText('server: { port: 1 }', { baseDir: tmp.dir, source: 'x' }));
    assert.deepEqual(missing.details, ['streams: required key is missing']);
  });

  it('reports a missing file and a non-YAML file as SEGD_CONFIG_UNREADABLE, naming the file', () => {
    const missing = join(tmp.dir, 'absent.yaml');
    const e1 = configError(() => loadConfigFile(missing));
    assert.equal(e1.code, 'SEGD_CONFIG_UNREADABLE');
    assert.ok(e1.message.includes(missing) && e1.message.includes('ENOENT'), e1.message);

    const bad = writeConfig(tmp.dir, 'server:\n  port: 1\n port: 2\n', 'bad.yaml');
    const e2 = configError(() => loadConfigFile(bad));
    assert.equal(e2.code, 'SEGD_CONFIG_UNREADABLE');
    assert.ok(e2.message.includes(bad) && /line 3/.test(e2.message), e2.message);

    const dup = writeConfig(tmp.dir, 'log: { level: info }\nlog: { level: debug }\nstreams: []\n', 'dup.yaml');
    assert.match(configError(() => loadConfigFile(dup)).message, /unique/);
  });

  it('reports a document that is not a mapping', () => {
    const err = configError(() => parseConfigText('- a\n- b\n', { baseDir: tmp.dir, source: 'x' }));
    assert.deepEqual(err.details, ['(top level): expected a mapping, got a list']);
  });
});

describe('shipped config files', () => {
  it('config/default.yaml: the bundled model and the bundled sample clip, both inside the repository', () => {
    const cfg = loadConfigFile(join(REPO_ROOT, 'config', 'default.yaml'));
    assert.equal(cfg.model.path, join(REPO_ROOT, 'models', 'sctnet-s-lite0-camvid-int8.onnx'));
    assert.equal(cfg.streams.length, 1);
    assert.equal(cfg.streams[0]?.url, join(REPO_ROOT, 'config', 'samples', 'camvid-0016E5-val.mp4'));
    assert.ok(existsSync(cfg.streams[0]?.url ?? ''), 'the sample clip ships with the repository');
    assert.equal(cfg.streams[0]?.loop, true);
    assert.equal(cfg.streams[0]?.realtime, true);
    assert.deepEqual(cfg.server, { host: '127.0.0.1', port: 8080, token: null, tokenFile: null, allowUnauthenticated: false, allowedOrigins: [], maxConnections: 256 });
  });

  it('config/examples/faster-model.yaml: the older, faster model one line away, with the bundled clip', () => {
    const cfg = loadConfigFile(join(REPO_ROOT, 'config', 'examples', 'faster-model.yaml'));
    assert.equal(cfg.model.path, join(REPO_ROOT, 'models', 'sctnet-s-camvid-int8.onnx'));
    assert.ok(existsSync(cfg.model.path), 'the faster model ships with the repository');
    assert.equal(cfg.streams[0]?.url, join(REPO_ROOT, 'config', 'samples', 'camvid-0016E5-val.mp4'));
  });

  it('config/segd.example.yaml (the /etc/segd/segd.yaml template) is valid', () => {
    const cfg = loadConfigFile(join(REPO_ROOT, 'config', 'segd.example.yaml'));
    assert.deepEqual(
      cfg.streams.map((s) => s.id),
      ['gate', 'yard', 'dock'],
    );
    // The default int8 model, as config/default.yaml.
    assert.equal(cfg.model.path, '/opt/segd/models/sctnet-s-lite0-camvid-int8.onnx');
    // LAN-facing: no way to serve it open unless someone says so.
    assert.equal(cfg.server.allowUnauthenticated, false);
  });
});
