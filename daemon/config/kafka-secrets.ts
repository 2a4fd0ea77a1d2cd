/**
 * Where the Kafka SASL password comes from, in order: env SEGD_KAFKA_PASSWORD, env
 * SEGD_KAFKA_PASSWORD_FILE (e.g. systemd's LoadCredential=), config kafka.sasl.passwordFile, config
 * kafka.sasl.password. A file holds the password alone (one trailing newline is ignored). The
 * resolved password replaces kafka.sasl.password; it is never printed or logged. The TLS files are
 * checked for readability here too, so `check-config` reports them.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { SegdError } from '../../pipeline/core/errors.js';
import type { SegdConfig } from './schema.js';

function readSecretFile(path: string, source: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
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

/** The config with kafka.sasl.password resolved from env / files; unchanged when Kafka is off. */
export function resolveKafkaSecrets(cfg: SegdConfig, env: Readonly<Record<string, string | undefined>>): SegdConfig {
  const k = cfg.kafka;
  if (k === null) return cfg;
  const problems: string[] = [];
  for (const field of ['ca', 'cert', 'key'] as const) {
    const path = k.tls[field];
    if (path === null) continue;
    try {
      accessSync(path, constants.R_OK);
    } catch (err) {
      problems.push(`kafka.tls.${field}: expected a readable PEM file, ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  if (problems.length > 0) throw new SegdError('SEGD_CONFIG_INVALID', `invalid kafka settings:\n  ${problems.join('\n  ')}`, problems);
  const envPassword = env['SEGD_KAFKA_PASSWORD'];
  const envFile = env['SEGD_KAFKA_PASSWORD_FILE'];
  const fromEnv = (envPassword !== undefined && envPassword !== '') || (envFile !== undefined && envFile !== '');
  if (k.sasl === null) {
    if (fromEnv) {
      const problem = 'kafka.sasl: expected a SASL mechanism and username to go with SEGD_KAFKA_PASSWORD / SEGD_KAFKA_PASSWORD_FILE';
      throw new SegdError('SEGD_CONFIG_INVALID', problem, [problem]);
    }
    return cfg;
  }
  let password: string | null;
  if (envPassword !== undefined && envPassword !== '') password = envPassword;
  else if (envFile !== undefined && envFile !== '') password = readSecretFile(envFile, 'SEGD_KAFKA_PASSWORD_FILE');
  else if (k.sasl.passwordFile !== null) password = readSecretFile(k.sasl.passwordFile, 'kafka.sasl.passwordFile');
  else password = k.sasl.password;
  if (password === null) {
    const problem = `kafka.sasl.password: expected a password for SASL user ${k.sasl.username} (kafka.sasl.password, kafka.sasl.passwordFile, SEGD_KAFKA_PASSWORD or SEGD_KAFKA_PASSWORD_FILE)`;
    throw new SegdError('SEGD_CONFIG_INVALID', problem, [problem]);
  }
  return { ...cfg, kafka: { ...k, sasl: { ...k.sasl, password, passwordFile: null } } };
}
