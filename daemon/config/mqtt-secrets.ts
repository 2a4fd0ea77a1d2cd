/**
 * Where the MQTT password comes from, in order: env SEGD_MQTT_PASSWORD, env SEGD_MQTT_PASSWORD_FILE
 * (e.g. systemd's LoadCredential=), config mqtt.passwordFile, config mqtt.password (as the bearer
 * token, config/token.ts). A file holds the password alone (one trailing newline is ignored). The
 * resolved password replaces mqtt.password; it is never printed or logged. The TLS files are
 * checked for readability here too, so `check-config` reports them.
 */
import { accessSync, constants } from 'node:fs';
import { SegdError } from '../../pipeline/core/errors.js';
import { MAX_SECRET_FILE_BYTES, readProblem, readRegularFile } from '../../pipeline/core/read-file.js';
import type { SegdConfig } from './schema.js';

function readSecretFile(path: string, source: string): string {
  let text: string;
  try {
    text = readRegularFile(path, MAX_SECRET_FILE_BYTES).toString('utf8');
  } catch (err) {
    const why = readProblem(err);
    const problem = `${source}: cannot read password file ${path} (${why})`;
    throw new SegdError('SEGD_CONFIG_INVALID', problem, [problem], { cause: err });
  }
  const password = text.replace(/\r?\n$/, '');
  if (password === '') {
    const problem = `${source}: expected a password in ${path}, the file is empty`;
    throw new SegdError('SEGD_CONFIG_INVALID', problem, [problem]);
  }
  return password;
}

/** The config with mqtt.password resolved from env / files; unchanged when MQTT is off. */
export function resolveMqttSecrets(cfg: SegdConfig, env: Readonly<Record<string, string | undefined>>): SegdConfig {
  const m = cfg.mqtt;
  if (m === null) return cfg;
  const problems: string[] = [];
  for (const field of ['ca', 'cert', 'key'] as const) {
    const path = m.tls[field];
    if (path === null) continue;
    try {
      accessSync(path, constants.R_OK);
    } catch (err) {
      problems.push(`mqtt.tls.${field}: expected a readable PEM file, ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  if (problems.length > 0) throw new SegdError('SEGD_CONFIG_INVALID', `invalid mqtt settings:\n  ${problems.join('\n  ')}`, problems);
  let password: string | null;
  const envPassword = env['SEGD_MQTT_PASSWORD'];
  const envFile = env['SEGD_MQTT_PASSWORD_FILE'];
  if (envPassword !== undefined && envPassword !== '') password = envPassword;
  else if (envFile !== undefined && envFile !== '') password = readSecretFile(envFile, 'SEGD_MQTT_PASSWORD_FILE');
  else if (m.passwordFile !== null) password = readSecretFile(m.passwordFile, 'mqtt.passwordFile');
  else password = m.password;
  if (password !== null && m.username === null) {
    const problem = 'mqtt.username: expected a user name to go with the MQTT password';
    throw new SegdError('SEGD_CONFIG_INVALID', problem, [problem]);
  }
  return { ...cfg, mqtt: { ...m, password, passwordFile: null } };
}
