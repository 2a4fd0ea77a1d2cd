// The mqtt section: defaults, relative paths, the password from env / file / config (never printed
// by check-config's summary), and the checks the schema cannot express.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfigText } from '../../daemon/config/load.js';
import { resolveMqttSecrets } from '../../daemon/config/mqtt-secrets.js';
import { summarizeConfig } from '../../daemon/config/summary.js';
import { defaultNodeName } from '../../daemon/mqtt-wiring.js';
import { makeTempDir } from '../helpers/daemon.js';
import { configProblems } from '../helpers/config-problems.js';

const parse = (mqtt: string, baseDir = '/etc/segd') => parseConfigText(`mqtt: ${mqtt}\nstreams: [{ id: a, url: rtsp://h/x }]`, { baseDir, source: 'inline' });

describe('config: mqtt', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  before(() => (tmp = makeTempDir('segd-mqtt-config-')));
  after(() => tmp.cleanup());

  it('is off by default and takes every default when given a url', () => {
    assert.equal(parseConfigText('streams: [{ id: a, url: rtsp://h/x }]', { baseDir: '/', source: 'inline' }).mqtt, null);
    assert.deepEqual(parse('{ url: "mqtt://broker:1883", passwordFile: pw, tls: { ca: ca.pem } }').mqtt, {
      url: 'mqtt://broker:1883',
      node: null,
      clientId: null,
      username: null,
      password: null,
      passwordFile: '/etc/segd/pw',
      tls: { ca: '/etc/segd/ca.pem', cert: null, key: null, rejectUnauthorized: true },
      topicPrefix: 'segd',
      statsIntervalMs: 1000,
      masks: { enabled: false, intervalMs: 1000, expirySeconds: 10 },
      offlineQueue: 1000,
      keepaliveSeconds: 30,
      connectTimeoutMs: 10000,
      reconnect: { minMs: 1000, maxMs: 30000 },
      homeAssistant: { discovery: true, prefix: 'homeassistant', classes: [], snapshots: { enabled: true, minIntervalMs: 2000, opacity: 0.5, quality: 80 } },
    });
  });

  it('names every bad field', () => {
    const lines = configProblems(() => parse('{ url: "http://x", topicPrefix: "segd/#", node: "a b", reconnect: { minMs: 5000, maxMs: 1000 }, tls: { cert: c.pem } }'));
    const has = (re: RegExp): void => assert.ok(lines.some((l) => re.test(l)), `no line matches ${re}:\n${lines.join('\n')}`);
    has(/^mqtt\.url: expected a string matching/);
    has(/^mqtt\.topicPrefix: expected a string matching/);
    has(/^mqtt\.node: expected a string matching/);
    has(/^mqtt\.reconnect\.minMs: expected at most mqtt\.reconnect\.maxMs \(1000\), got 5000/);
    has(/^mqtt\.tls\.cert and mqtt\.tls\.key: expected both/);
    const ha = configProblems(() => parse('{ url: "mqtt://b", homeAssistant: { prefix: "home/+", snapshots: { opacity: 2 }, classes: [car, car] } }'));
    for (const re of [/^mqtt\.homeAssistant\.prefix: expected a string matching/, /^mqtt\.homeAssistant\.snapshots\.opacity: expected a number <= 1, got 2/, /^mqtt\.homeAssistant\.classes: expected no duplicates/]) {
      assert.ok(ha.some((l) => re.test(l)), `no line matches ${re}:\n${ha.join('\n')}`);
    }
  });

  it('takes the password from env, env file, passwordFile or the config, in that order; never prints it', () => {
    const file = join(tmp.dir, 'pw');
    writeFileSync(file, 'from-file-secret\n');
    const cfg = parse(`{ url: "mqtt://b", username: segd, passwordFile: ${JSON.stringify(file)} }`);
    assert.equal(resolveMqttSecrets(cfg, {}).mqtt?.password, 'from-file-secret');
    assert.equal(resolveMqttSecrets(cfg, { SEGD_MQTT_PASSWORD: 'from-env-secret' }).mqtt?.password, 'from-env-secret');
    assert.equal(resolveMqttSecrets(cfg, { SEGD_MQTT_PASSWORD_FILE: file }).mqtt?.password, 'from-file-secret');
    const inline = resolveMqttSecrets(parse('{ url: "mqtt://b", username: segd, password: inline-secret }'), {});
    assert.equal(inline.mqtt?.password, 'inline-secret');
    const summary = summarizeConfig(inline).join('\n');
    assert.match(summary, /mqtt: mqtt:\/\/b \(user segd, password set; prefix segd; node host name; stats every 1000 ms\)/);
    assert.ok(!summary.includes('inline-secret'));
    assert.match(configProblems(() => resolveMqttSecrets(parse('{ url: "mqtt://b", password: x }'), {}))[0] ?? '', /^mqtt\.username: expected a user name/);
    assert.match(configProblems(() => resolveMqttSecrets(parse('{ url: "mqtt://b", tls: { ca: /nonexistent/ca.pem } }'), {}))[0] ?? '', /^mqtt\.tls\.ca: expected a readable PEM file/);
  });

  it('defaults the node name to the host name as one topic level', () => {
    assert.equal(defaultNodeName('gate-pi.lan'), 'gate-pi');
    assert.equal(defaultNodeName('weird host!'), 'weird_host_');
    assert.equal(defaultNodeName(''), 'segd');
  });
});
