/**
 * Secrets for the broker sinks (MQTT, Kafka), resolved once at load: the order is env
 * `SEGD_<NAME>_PASSWORD`, env `SEGD_<NAME>_PASSWORD_FILE` (e.g. systemd's LoadCredential=), the
 * config's passwordFile, the config's inline password. A file holds the password alone (one trailing
 * newline is ignored) and is read as a regular file with a size cap, never from a device or FIFO.
 * Problems name the setting and the file, never a password.
 */
import { accessSync, constants } from 'node:fs';
import { SegdError } from '../../pipeline/core/errors.js';
import { MAX_SECRET_FILE_BYTES, readProblem, readRegularFile } from '../../pipeline/core/read-file.js';

function invalid(problem: string, cause?: unknown): SegdError {
  return new SegdError('SEGD_CONFIG_INVALID', problem, [problem], cause === undefined ? undefined : { cause });
}

export function readSecretFile(path: string, source: string): string {
  let text: string;
  try {
    text = readRegularFile(path, MAX_SECRET_FILE_BYTES).toString('utf8');
  } catch (err) {
    throw invalid(`${source}: cannot read password file ${path} (${readProblem(err)})`, err);
  }
  const password = text.replace(/\r?\n$/, '');
  if (password === '') throw invalid(`${source}: expected a password in ${path}, the file is empty`);
  return password;
}

/** Throws one error listing every TLS file of `section` (mqtt, kafka) that cannot be read. */
export function checkTlsFiles(section: string, tls: Readonly<Record<'ca' | 'cert' | 'key', string | null>>): void {
  const problems: string[] = [];
  for (const field of ['ca', 'cert', 'key'] as const) {
    const path = tls[field];
    if (path === null) continue;
    try {
      accessSync(path, constants.R_OK);
    } catch (err) {
      problems.push(`${section}.tls.${field}: expected a readable PEM file, ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  if (problems.length > 0) throw new SegdError('SEGD_CONFIG_INVALID', `invalid ${section} settings:\n  ${problems.join('\n  ')}`, problems);
}

export interface PasswordSources {
  /** `MQTT` → env SEGD_MQTT_PASSWORD and SEGD_MQTT_PASSWORD_FILE. */
  readonly envName: string;
  /** The config's passwordFile and its setting name for errors (`mqtt.passwordFile`). */
  readonly file: string | null;
  readonly fileSetting: string;
  readonly inline: string | null;
}

/** Whether the environment names a password for `envName` at all. */
export function envHasPassword(env: Readonly<Record<string, string | undefined>>, envName: string): boolean {
  return Boolean(env[`SEGD_${envName}_PASSWORD`]) || Boolean(env[`SEGD_${envName}_PASSWORD_FILE`]);
}

/** The password from the first source that has one, or null when none does. */
export function resolvePassword(env: Readonly<Record<string, string | undefined>>, s: PasswordSources): string | null {
  const direct = env[`SEGD_${s.envName}_PASSWORD`];
  if (direct !== undefined && direct !== '') return direct;
  const fileVar = `SEGD_${s.envName}_PASSWORD_FILE`;
  const envFile = env[fileVar];
  if (envFile !== undefined && envFile !== '') return readSecretFile(envFile, fileVar);
  if (s.file !== null) return readSecretFile(s.file, s.fileSetting);
  return s.inline;
}
