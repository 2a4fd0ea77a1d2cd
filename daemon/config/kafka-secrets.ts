/**
 * Where the Kafka SASL password comes from (secret-source.ts gives the order: env
 * SEGD_KAFKA_PASSWORD, env SEGD_KAFKA_PASSWORD_FILE, kafka.sasl.passwordFile, kafka.sasl.password).
 * The resolved password replaces kafka.sasl.password; it is never printed or logged. The TLS files
 * are checked for readability here too, so `check-config` reports them.
 */
import { SegdError } from '../../pipeline/core/errors.js';
import type { SegdConfig } from './schema.js';
import { checkTlsFiles, envHasPassword, resolvePassword } from './secret-source.js';

/** The config with kafka.sasl.password resolved from env / files; unchanged when Kafka is off. */
export function resolveKafkaSecrets(cfg: SegdConfig, env: Readonly<Record<string, string | undefined>>): SegdConfig {
  const k = cfg.kafka;
  if (k === null) return cfg;
  checkTlsFiles('kafka', k.tls);
  if (k.sasl === null) {
    if (envHasPassword(env, 'KAFKA')) {
      const problem = 'kafka.sasl: expected a SASL mechanism and username to go with SEGD_KAFKA_PASSWORD / SEGD_KAFKA_PASSWORD_FILE';
      throw new SegdError('SEGD_CONFIG_INVALID', problem, [problem]);
    }
    return cfg;
  }
  const password = resolvePassword(env, { envName: 'KAFKA', file: k.sasl.passwordFile, fileSetting: 'kafka.sasl.passwordFile', inline: k.sasl.password });
  if (password === null) {
    const problem = `kafka.sasl.password: expected a password for SASL user ${k.sasl.username} (kafka.sasl.password, kafka.sasl.passwordFile, SEGD_KAFKA_PASSWORD or SEGD_KAFKA_PASSWORD_FILE)`;
    throw new SegdError('SEGD_CONFIG_INVALID', problem, [problem]);
  }
  return { ...cfg, kafka: { ...k, sasl: { ...k.sasl, password, passwordFile: null } } };
}
