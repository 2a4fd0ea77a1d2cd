// The kafka section: off by default, defaults, relative paths, the SASL password from env / file /
// config (never printed by check-config's summary), and the checks the schema cannot express.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveKafkaSecrets } from '../../daemon/config/kafka-secrets.js';
import { parseConfigText } from '../../daemon/config/load.js';
import { summarizeConfig } from '../../daemon/config/summary.js';
import { configProblems } from '../helpers/config-problems.js';
import { makeTempDir } from '../helpers/daemon.js';

const parse = (kafka: string, baseDir = '/etc/segd') => parseConfigText(`kafka: ${kafka}\nstreams: [{ id: a, url: rtsp://h/x }]`, { baseDir, source: 'inline' });

describe('config: kafka', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  before(() => (tmp = makeTempDir('segd-kafka-config-')));
  after(() => tmp.cleanup());

  it('is off by default and takes every default when given brokers', () => {
    assert.equal(parseConfigText('streams: [{ id: a, url: rtsp://h/x }]', { baseDir: '/', source: 'inline' }).kafka, null);
    const k = parse('{ brokers: ["k1:9092"], sasl: { username: segd, passwordFile: pw }, tls: { enabled: true, ca: ca.pem } }').kafka;
    assert.deepEqual(k, {
      brokers: ['k1:9092'],
      node: null,
      clientId: null,
      topicPrefix: 'segd',
      topics: { create: true, partitions: 6, replicationFactor: -1 },
      acks: 'all',
      idempotent: true,
      compression: 'gzip',
      areasIntervalMs: 0,
      masks: { enabled: false, intervalMs: 1000 },
      statusIntervalMs: 30000,
      buffer: { messages: 10000, bytes: 67108864 },
      batchMessages: 500,
      lingerMs: 250,
      tls: { enabled: true, ca: '/etc/segd/ca.pem', cert: null, key: null, rejectUnauthorized: true },
      sasl: { mechanism: 'scram-sha-512', username: 'segd', password: null, passwordFile: '/etc/segd/pw' },
      connectTimeoutMs: 10000,
      requestTimeoutMs: 30000,
      reconnect: { minMs: 500, maxMs: 30000 },
      closeTimeoutMs: 3000,
    });
  });

  it('names what is wrong: a broker without a port, acks below all with idempotence, two password sources, half a client certificate', () => {
    const problems = configProblems(() =>
      parse('{ brokers: ["k1"], acks: leader, sasl: { username: u, password: p, passwordFile: f }, tls: { cert: c.pem }, topicPrefix: "a/b" }'),
    );
    assert.ok(problems.some((p) => p.startsWith('kafka.brokers[0]')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith("kafka.acks: expected 'all' while kafka.idempotent is true")), problems.join('\n'));
    assert.ok(problems.includes('kafka.sasl.password and kafka.sasl.passwordFile: expected at most one of them'), problems.join('\n'));
    assert.ok(problems.includes('kafka.tls.cert and kafka.tls.key: expected both (a client certificate and its key) or neither'), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('kafka.topicPrefix')), problems.join('\n'));
    assert.doesNotThrow(() => parse('{ brokers: ["k1:9092"], acks: leader, idempotent: false }'));
    // A password YAML read as a number is refused without echoing it.
    const secret = configProblems(() => parse('{ brokers: ["k1:9092"], sasl: { username: u, password: 8675309123 } }'));
    assert.deepEqual(secret, ['kafka.sasl.password: expected a string (quote it in YAML), got a number (not shown: a secret)']);
  });

  it('resolves the SASL password: env, env file, config file, inline; never in the summary', () => {
    const file = join(tmp.dir, 'pw');
    writeFileSync(file, 'from-file-secret\n');
    const cfg = parse(`{ brokers: ["k1:9092"], sasl: { mechanism: plain, username: segd, passwordFile: ${file} } }`);
    assert.equal(resolveKafkaSecrets(cfg, {}).kafka?.sasl?.password, 'from-file-secret');
    assert.equal(resolveKafkaSecrets(cfg, { SEGD_KAFKA_PASSWORD: 'from-env-secret' }).kafka?.sasl?.password, 'from-env-secret');
    assert.equal(resolveKafkaSecrets(cfg, { SEGD_KAFKA_PASSWORD_FILE: file }).kafka?.sasl?.password, 'from-file-secret');
    const inline = resolveKafkaSecrets(parse('{ brokers: ["k1:9092"], sasl: { username: segd, password: inline-secret } }'), {});
    assert.equal(inline.kafka?.sasl?.password, 'inline-secret');
    const summary = summarizeConfig(inline).join('\n');
    assert.match(summary, /kafka: k1:9092 \(SASL scram-sha-512 user segd, password set;/);
    assert.ok(!summary.includes('inline-secret'));
    assert.match(configProblems(() => resolveKafkaSecrets(parse('{ brokers: ["k1:9092"], sasl: { username: u } }'), {}))[0] ?? '', /^kafka\.sasl\.password: expected a password for SASL user u/);
    assert.match(configProblems(() => resolveKafkaSecrets(parse('{ brokers: ["k1:9092"] }'), { SEGD_KAFKA_PASSWORD: 'x' }))[0] ?? '', /^kafka\.sasl: expected a SASL mechanism and username/);
    assert.match(configProblems(() => resolveKafkaSecrets(parse('{ brokers: ["k1:9092"], tls: { ca: /nonexistent/ca.pem } }'), {}))[0] ?? '', /^kafka\.tls\.ca: expected a readable PEM file/);
  });

  it('reads a password file only as a regular file, whatever names it (a device would be read without end)', () => {
    const cfg = parse('{ brokers: ["k1:9092"], sasl: { mechanism: plain, username: segd, passwordFile: /dev/zero } }');
    assert.match(configProblems(() => resolveKafkaSecrets(cfg, {}))[0] ?? '', /^kafka\.sasl\.passwordFile: cannot read password file \/dev\/zero \(/);
    const env = parse('{ brokers: ["k1:9092"], sasl: { mechanism: plain, username: segd } }');
    assert.match(configProblems(() => resolveKafkaSecrets(env, { SEGD_KAFKA_PASSWORD_FILE: '/dev/zero' }))[0] ?? '', /^SEGD_KAFKA_PASSWORD_FILE: cannot read password file \/dev\/zero \(/);
  });
});
