/**
 * A real Debian `mosquitto` broker per test: its own 127.0.0.1 port and temporary config (optionally
 * a password file made with `mosquitto_passwd`, a TLS listener, persistence), started as a child
 * and stopped by pid. `restart()` starts it again on the same port with the same files.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const MOSQUITTO = '/usr/sbin/mosquitto';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** A port that was free a moment ago (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface BrokerOptions {
  /** Temporary directory for the config, password file and persistence. */
  readonly dir: string;
  /** user → password; makes the broker refuse anonymous clients. */
  readonly users?: Readonly<Record<string, string>>;
  /** PEM paths: a TLS listener instead of a plain one. */
  readonly tls?: { readonly ca: string; readonly cert: string; readonly key: string };
  /** Keep sessions and queued messages across restarts (saved on SIGTERM). */
  readonly persistence?: boolean;
}

export interface Broker {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** Everything the broker logged. */
  log(): string;
  /** SIGTERM (persistence is saved), waits for exit. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL, waits for exit. */
  kill(): Promise<void>;
  /** A new broker process on the same port and files. */
  restart(): Promise<Broker>;
}

function writeConfig(opts: BrokerOptions, port: number): string {
  // As root, mosquitto would switch to the `mosquitto` user, who cannot read a private temp dir;
  // staying the test's user is what a non-root run does anyway.
  const lines = [`listener ${port} 127.0.0.1`, ...(process.getuid?.() === 0 ? ['user root'] : []), 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type notice', 'log_type information'];
  if (opts.users !== undefined) {
    const file = join(opts.dir, 'passwd');
    writeFileSync(file, '');
    for (const [user, password] of Object.entries(opts.users)) execFileSync('mosquitto_passwd', ['-b', file, user, password]);
    lines.push('allow_anonymous false', `password_file ${file}`);
  } else lines.push('allow_anonymous true');
  if (opts.tls !== undefined) lines.push(`cafile ${opts.tls.ca}`, `certfile ${opts.tls.cert}`, `keyfile ${opts.tls.key}`);
  if (opts.persistence === true) lines.push('persistence true', `persistence_location ${opts.dir}/`);
  const path = join(opts.dir, 'mosquitto.conf');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

async function launch(opts: BrokerOptions, port: number, conf: string): Promise<Broker> {
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  let log = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      log += d;
      if (/mosquitto version \S+ running/.test(log)) resolve();
    });
    void exited.then(() => reject(new Error(`mosquitto on port ${port} exited before it ran:\n${log}`)));
  });
  const pid = child.pid as number;
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, signal);
    await exited;
    live.delete(child);
  };
  return {
    port,
    url: `${opts.tls !== undefined ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    pid,
    log: () => log,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    restart: () => launch(opts, port, conf),
  };
}

export async function startBroker(opts: BrokerOptions): Promise<Broker> {
  const port = await freePort();
  return launch(opts, port, writeConfig(opts, port));
}

/** A throw-away CA and a server certificate for 127.0.0.1 (openssl, EC keys: fast). */
export function makeTestCa(dir: string): { ca: string; cert: string; key: string } {
  const p = (name: string): string => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync('openssl', ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '1', '-subj', '/CN=segd-test-ca'], { stdio: 'ignore' });
  execFileSync('openssl', ['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  writeFileSync(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  execFileSync(
    'openssl',
    ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('server.crt'), '-days', '1', '-extfile', p('ext.cnf')],
    { stdio: 'ignore' },
  );
  return { ca: p('ca.crt'), cert: p('server.crt'), key: p('server.key') };
}
