/**
 * Where the bearer token comes from, in order: env SEGD_TOKEN, env SEGD_TOKEN_FILE (e.g.
 * `%d/segd-token` under systemd's LoadCredential=), config server.tokenFile, config server.token.
 * A file holds the token alone (one trailing newline is ignored). The resolved token replaces
 * server.token; it is never printed or logged.
 * Without a token, a host beyond loopback is refused unless server.allowUnauthenticated says it is
 * meant: anyone who can reach the port would see every camera's masks and could drive the API.
 */
import { resolve } from 'node:path';
import { MIN_TOKEN_LENGTH, isLoopbackAddress } from '../auth.js';
import { SegdError } from '../../pipeline/core/errors.js';
import { MAX_SECRET_FILE_BYTES, readProblem, readRegularFile } from '../../pipeline/core/read-file.js';
import type { SegdConfig } from './schema.js';

const TOKEN_CHARS = /^[\x21-\x7e]+$/; // printable ASCII, no spaces: it must survive a header and a query string

function checkToken(token: string, source: string): string {
  if (token.length < MIN_TOKEN_LENGTH || !TOKEN_CHARS.test(token)) {
    throw new SegdError(
      'SEGD_CONFIG_INVALID',
      `${source}: expected a token of at least ${MIN_TOKEN_LENGTH} printable ASCII characters without spaces, got ${token.length} character(s)${TOKEN_CHARS.test(token) || token === '' ? '' : ' including spaces or non-ASCII'}`,
      [source],
    );
  }
  return token;
}

function readTokenFile(path: string, source: string): string {
  let text: string;
  try {
    text = readRegularFile(resolve(path), MAX_SECRET_FILE_BYTES).toString('utf8');
  } catch (err) {
    const why = readProblem(err);
    throw new SegdError('SEGD_CONFIG_INVALID', `${source}: cannot read token file ${path} (${why})`, [source], { cause: err });
  }
  return checkToken(text.replace(/\r?\n$/, ''), `${source} (${path})`);
}

/** The config with server.token resolved from env / files (null = no authentication). */
export function resolveToken(cfg: SegdConfig, env: Readonly<Record<string, string | undefined>>): SegdConfig {
  const s = cfg.server;
  if (s.token !== null && s.tokenFile !== null) {
    throw new SegdError('SEGD_CONFIG_INVALID', 'server.token and server.tokenFile: expected at most one of them', ['server.tokenFile']);
  }
  let token: string | null;
  const envToken = env['SEGD_TOKEN'];
  const envFile = env['SEGD_TOKEN_FILE'];
  if (envToken !== undefined && envToken !== '') token = checkToken(envToken, 'SEGD_TOKEN');
  else if (envFile !== undefined && envFile !== '') token = readTokenFile(envFile, 'SEGD_TOKEN_FILE');
  else if (s.tokenFile !== null) token = readTokenFile(s.tokenFile, 'server.tokenFile');
  else if (s.token !== null) token = checkToken(s.token, 'server.token');
  else token = null;
  if (token === null && !s.allowUnauthenticated && !isLoopbackHost(s.host)) {
    throw new SegdError(
      'SEGD_CONFIG_INVALID',
      `server.host: ${s.host} is reachable beyond this machine, and no bearer token is set: expected server.token, server.tokenFile, SEGD_TOKEN or SEGD_TOKEN_FILE, or server.allowUnauthenticated: true to serve it open on purpose (docs/operations.md, "Bearer token")`,
      ['server.host'],
    );
  }
  return { ...cfg, server: { ...s, token, tokenFile: null } };
}

/** The configured listen host, before binding: `localhost` or a loopback address. */
function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopbackAddress(host);
}
