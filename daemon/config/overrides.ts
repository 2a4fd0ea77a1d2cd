/**
 * Command-line flags and environment variables that override the config file.
 * Precedence: flag > environment > file. A bad value names the flag or variable it came from.
 */
import { SegdError } from '../../pipeline/core/errors.js';
import type { SegdConfig } from './schema.js';

export interface OverrideInputs {
  readonly configFlag?: string | undefined;
  readonly portFlag?: string | undefined;
  readonly hostFlag?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface Overrides {
  /** The config file to read: --config, else SEGD_CONFIG, else the given default. */
  readonly configPath: string;
  readonly host: string | undefined;
  readonly port: number | undefined;
}

export function resolveOverrides(inputs: OverrideInputs, defaultConfigPath: string): Overrides {
  const problems: string[] = [];
  const pick = (flag: string | undefined, envName: string): [string | undefined, string] => {
    if (flag !== undefined) return [flag, flagNameOf(envName)];
    const v = inputs.env[envName];
    return [v === '' ? undefined : v, envName];
  };

  const [portText, portSource] = pick(inputs.portFlag, 'SEGD_PORT');
  let port: number | undefined;
  if (portText !== undefined) {
    if (/^\d{1,5}$/.test(portText) && Number(portText) <= 65535) port = Number(portText);
    else problems.push(`${portSource}: expected an integer port 0-65535, got ${JSON.stringify(portText)}`);
  }

  const [host, hostSource] = pick(inputs.hostFlag, 'SEGD_HOST');
  if (host !== undefined && host.trim() === '') problems.push(`${hostSource}: expected a host name or address, got ""`);

  const [configPath] = pick(inputs.configFlag, 'SEGD_CONFIG');
  if (configPath !== undefined && configPath === '') problems.push('--config: expected a file path, got ""');

  if (problems.length > 0) {
    throw new SegdError('SEGD_CONFIG_INVALID', `invalid overrides:\n  ${problems.join('\n  ')}`, problems);
  }
  return { configPath: configPath ?? defaultConfigPath, host, port };
}

function flagNameOf(envName: string): string {
  return `--${envName.replace(/^SEGD_/, '').toLowerCase()}`;
}

export function applyOverrides(cfg: SegdConfig, o: Overrides): SegdConfig {
  if (o.host === undefined && o.port === undefined) return cfg;
  return { ...cfg, server: { ...cfg.server, host: o.host ?? cfg.server.host, port: o.port ?? cfg.server.port } };
}
