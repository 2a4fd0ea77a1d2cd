// Flags beat environment variables, which beat the config file; bad values name their origin.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyOverrides, resolveOverrides } from '../../daemon/config/overrides.js';
import { parseConfigText } from '../../daemon/config/load.js';
import { SegdError } from '../../pipeline/core/errors.js';

const fileCfg = parseConfigText('server: { host: 10.0.0.1, port: 9000 }\nstreams: [{ id: a, url: rtsp://h/x }]', {
  baseDir: '/x',
  source: 'inline',
});

describe('config overrides', () => {
  it('uses the file when neither flag nor env is given', () => {
    const o = resolveOverrides({ env: {} }, '/default.yaml');
    assert.equal(o.configPath, '/default.yaml');
    assert.deepEqual(applyOverrides(fileCfg, o).server, { host: '10.0.0.1', port: 9000, token: null, tokenFile: null, allowUnauthenticated: false, allowedOrigins: [], maxConnections: 256 });
  });

  it('env beats the file, flags beat env', () => {
    const env = { SEGD_PORT: '7000', SEGD_HOST: '0.0.0.0', SEGD_CONFIG: '/env.yaml' };
    const fromEnv = resolveOverrides({ env }, '/default.yaml');
    assert.equal(fromEnv.configPath, '/env.yaml');
    assert.deepEqual(applyOverrides(fileCfg, fromEnv).server, { host: '0.0.0.0', port: 7000, token: null, tokenFile: null, allowUnauthenticated: false, allowedOrigins: [], maxConnections: 256 });

    const fromFlags = resolveOverrides({ env, portFlag: '0', hostFlag: '127.0.0.1', configFlag: '/flag.yaml' }, '/default.yaml');
    assert.equal(fromFlags.configPath, '/flag.yaml');
    assert.deepEqual(applyOverrides(fileCfg, fromFlags).server, { host: '127.0.0.1', port: 0, token: null, tokenFile: null, allowUnauthenticated: false, allowedOrigins: [], maxConnections: 256 });
  });

  it('an empty env variable counts as unset', () => {
    const o = resolveOverrides({ env: { SEGD_PORT: '', SEGD_HOST: '' } }, '/d.yaml');
    assert.deepEqual(applyOverrides(fileCfg, o).server, { host: '10.0.0.1', port: 9000, token: null, tokenFile: null, allowUnauthenticated: false, allowedOrigins: [], maxConnections: 256 });
  });

  it('names the flag or variable a bad port came from', () => {
    for (const [inputs, origin] of [
      [{ env: { SEGD_PORT: 'http' } }, 'SEGD_PORT'],
      [{ env: {}, portFlag: '70000' }, '--port'],
      [{ env: { SEGD_PORT: '80' }, portFlag: '-1' }, '--port'],
    ] as const) {
      assert.throws(
        () => resolveOverrides(inputs, '/d.yaml'),
        (err: unknown) =>
          err instanceof SegdError &&
          err.code === 'SEGD_CONFIG_INVALID' &&
          err.details.length === 1 &&
          (err.details[0] ?? '').startsWith(`${origin}: expected an integer port 0-65535`),
      );
    }
  });
});
