/**
 * A real Apache Kafka 4.x broker per test: KRaft, one process that is broker and controller, on
 * 127.0.0.1 ports picked here, its storage formatted in the test's temporary directory. The jars
 * come from scripts/kafka-setup.sh (Maven Central, provisioned by `scripts/setup.sh --test`); a
 * missing install is an error, never a skip. The JVM is kept small (heap, GC and compiler threads):
 * two cores are shared by everything the suite runs. `restart()` starts it again on the same ports
 * and storage, so what it had written survives (the outage test).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './mosquitto.js';
import { REPO_ROOT } from './paths.js';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** The provisioned Kafka directory (its libs/ is the classpath). Throws with the fix when absent. */
export function kafkaHome(): string {
  try {
    return execFileSync('bash', [join(REPO_ROOT, 'scripts/kafka-setup.sh'), '--path'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '');
    throw new Error(`Kafka is not provisioned: ${stderr.trim() || String(err)}`);
  }
}

/** Small and quiet: the broker needs little for a test, and the suite's cores are shared. */
const JVM_FLAGS = ['-Xms64m', '-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-XX:CICompilerCount=1', '-Djava.awt.headless=true'];

export interface KafkaBrokerOptions {
  /** Temporary directory for the config and the log (storage) directory. */
  readonly dir: string;
  /**
   * user → password: the client listener takes SASL with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (the
   * SCRAM credentials are written into the storage when it is formatted, as KRaft requires).
   */
  readonly users?: Readonly<Record<string, string>>;
  /** TLS on the client listener with these PEM files (mosquitto.ts makeTestCa makes a throw-away CA). */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** The broker creates topics on first use (Kafka's default). false: unknown topics are refused. */
  readonly autoCreateTopics?: boolean;
}

export interface KafkaBroker {
  readonly port: number;
  /** `127.0.0.1:<port>`, the bootstrap address. */
  readonly bootstrap: string;
  readonly pid: number;
  /** What the broker logged (warnings, errors, start and stop lines). */
  log(): string;
  /** SIGTERM (a controlled shutdown), waits for exit. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL, waits for exit. */
  kill(): Promise<void>;
  /** A new broker process on the same ports and storage. */
  restart(): Promise<KafkaBroker>;
}

interface Plan {
  readonly opts: KafkaBrokerOptions;
  readonly home: string;
  readonly port: number;
  readonly properties: string;
}

/** The broker's own account on a SASL listener. */
const ADMIN = { user: 'segd-test-admin', password: 'admin-secret' };

function writeProperties(opts: KafkaBrokerOptions, port: number, controllerPort: number, internalPort: number): string {
  const data = join(opts.dir, 'kafka-data');
  mkdirSync(data, { recursive: true });
  const sasl = opts.users !== undefined;
  const client = `${sasl ? 'SASL_' : ''}${opts.tls ? 'SSL' : 'PLAINTEXT'}`;
  // The broker talks to itself on a plaintext listener of its own, so the client listener's TLS and
  // SASL settings are the only ones under test.
  const lines = [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=CLIENT://127.0.0.1:${port},INTERNAL://127.0.0.1:${internalPort},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=CLIENT://127.0.0.1:${port},INTERNAL://127.0.0.1:${internalPort}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=INTERNAL',
    `listener.security.protocol.map=CLIENT:${client},INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT`,
    `log.dirs=${data}`,
    `auto.create.topics.enable=${opts.autoCreateTopics ?? true}`,
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    // Few threads: one test client at a time.
    'num.network.threads=1',
    'num.io.threads=2',
    'background.threads=2',
    'log.cleaner.threads=1',
    'num.recovery.threads.per.data.dir=1',
  ];
  if (sasl) {
    const users = Object.entries(opts.users ?? {})
      .map(([u, p]) => `user_${u}="${p}"`)
      .join(' ');
    lines.push(
      'listener.name.client.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      `listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="${ADMIN.user}" password="${ADMIN.password}" ${users};`,
      'listener.name.client.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    );
  }
  if (opts.tls) {
    // A PEM key store: the unencrypted PKCS#8 key followed by the certificate chain.
    const keystore = join(opts.dir, 'broker-keystore.pem');
    writeFileSync(keystore, `${readFileSync(opts.tls.key, 'utf8').trim()}\n${readFileSync(opts.tls.cert, 'utf8').trim()}\n`);
    lines.push('listener.name.client.ssl.keystore.type=PEM', `listener.name.client.ssl.keystore.location=${keystore}`, 'listener.name.client.ssl.client.auth=none');
  }
  const path = join(opts.dir, 'server.properties');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

function java(home: string, main: string, args: readonly string[]): string[] {
  return [...JVM_FLAGS, `-Dlog4j2.configurationFile=${join(home, 'log4j2.properties')}`, '-cp', `${join(home, 'libs')}/*`, main, ...args];
}

async function launch(plan: Plan): Promise<KafkaBroker> {
  const child = spawn('java', java(plan.home, 'kafka.Kafka', [plan.properties]), { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  let log = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      log += d;
      if (log.includes('Kafka Server started')) resolve();
    });
    child.on('error', (err) => reject(new Error(`java could not start (install openjdk-17-jre-headless): ${err.message}`)));
    void exited.then(() => reject(new Error(`kafka on port ${plan.port} exited before it started:\n${log}`)));
  });
  const pid = child.pid as number;
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, signal);
    await exited;
    live.delete(child);
  };
  return {
    port: plan.port,
    bootstrap: `127.0.0.1:${plan.port}`,
    pid,
    log: () => log,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    restart: () => launch(plan),
  };
}

/** Formats fresh KRaft storage in `opts.dir` and starts the broker; resolves once it serves. */
export async function startKafka(opts: KafkaBrokerOptions): Promise<KafkaBroker> {
  const home = kafkaHome();
  const port = await freePort();
  const ports = new Set([port]);
  while (ports.size < 3) ports.add(await freePort());
  const [, controllerPort, internalPort] = [...ports] as [number, number, number];
  const properties = writeProperties(opts, port, controllerPort, internalPort);
  // A cluster id is 16 random bytes, base64url without padding (what `kafka-storage random-uuid` prints).
  const clusterId = randomBytes(16).toString('base64url');
  const scram = Object.entries(opts.users ?? {}).flatMap(([u, p]) => ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => ['--add-scram', `${m}=[name=${u},password=${p}]`]));
  // `--cluster-id=ID`, not `-t ID`: one id in 64 starts with '-', which the tool's argument parser takes for an option.
  execFileSync('java', java(home, 'kafka.tools.StorageTool', ['format', `--cluster-id=${clusterId}`, '-c', properties, ...scram]), { stdio: ['ignore', 'ignore', 'pipe'] });
  return launch({ opts, home, port, properties });
}
