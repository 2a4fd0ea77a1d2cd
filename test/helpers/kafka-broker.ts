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
import { mkdirSync, writeFileSync } from 'node:fs';
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
  /** user → password: the client listener is SASL_PLAINTEXT with the PLAIN mechanism. */
  readonly users?: Readonly<Record<string, string>>;
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

function writeProperties(opts: KafkaBrokerOptions, port: number, controllerPort: number): string {
  const data = join(opts.dir, 'kafka-data');
  mkdirSync(data, { recursive: true });
  const sasl = opts.users !== undefined;
  const client = sasl ? 'SASL_PLAINTEXT' : 'PLAINTEXT';
  const lines = [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=${client}://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=${client}://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    `inter.broker.listener.name=${client}`,
    `listener.security.protocol.map=${client}:${client},CONTROLLER:PLAINTEXT`,
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
    // The broker's own account (inter-broker traffic over the same listener) plus the test's users.
    const accounts = { 'segd-test-admin': 'admin-secret', ...opts.users };
    const users = Object.entries(accounts)
      .map(([u, p]) => `user_${u}="${p}"`)
      .join(' ');
    lines.push(
      'sasl.enabled.mechanisms=PLAIN',
      'sasl.mechanism.inter.broker.protocol=PLAIN',
      `listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="segd-test-admin" password="admin-secret" ${users};`,
    );
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
  let controllerPort = await freePort();
  while (controllerPort === port) controllerPort = await freePort();
  const properties = writeProperties(opts, port, controllerPort);
  // A cluster id is 16 random bytes, base64url without padding (what `kafka-storage random-uuid` prints).
  const clusterId = randomBytes(16).toString('base64url');
  execFileSync('java', java(home, 'kafka.tools.StorageTool', ['format', '-t', clusterId, '-c', properties]), { stdio: ['ignore', 'ignore', 'pipe'] });
  return launch({ opts, home, port, properties });
}
