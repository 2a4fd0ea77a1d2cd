/**
 * Where the MQTT password comes from (secret-source.ts gives the order: env SEGD_MQTT_PASSWORD, env
 * SEGD_MQTT_PASSWORD_FILE, mqtt.passwordFile, mqtt.password). The resolved password replaces
 * mqtt.password; it is never printed or logged. The TLS files are checked for readability here too,
 * so `check-config` reports them.
 */
import { SegdError } from '../../pipeline/core/errors.js';
import type { SegdConfig } from './schema.js';
import { checkTlsFiles, resolvePassword } from './secret-source.js';

/** The config with mqtt.password resolved from env / files; unchanged when MQTT is off. */
export function resolveMqttSecrets(cfg: SegdConfig, env: Readonly<Record<string, string | undefined>>): SegdConfig {
  const m = cfg.mqtt;
  if (m === null) return cfg;
  checkTlsFiles('mqtt', m.tls);
  const password = resolvePassword(env, { envName: 'MQTT', file: m.passwordFile, fileSetting: 'mqtt.passwordFile', inline: m.password });
  if (password !== null && m.username === null) {
    const problem = 'mqtt.username: expected a user name to go with the MQTT password';
    throw new SegdError('SEGD_CONFIG_INVALID', problem, [problem]);
  }
  return { ...cfg, mqtt: { ...m, password, passwordFile: null } };
}
