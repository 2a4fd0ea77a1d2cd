#!/usr/bin/env node
/**
 * segd's command line: `segd run`, `segd check-config FILE`, `--help`, `--version`. A running
 * daemon re-reads its config file on SIGHUP (`systemctl reload segd`).
 * Exit codes: 0 ok · 1 crash · 2 bad usage or invalid config · 3 start-up failure (model,
 * provider, address in use). systemd's RestartPreventExitStatus=2 relies on 2 meaning "fix the config".
 */
// First: on a Node.js older than package.json's engines, exit with one clear line before anything else runs.
import './require-node.js';
import { segdVersion } from './version.js';
import { basename, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SegdError } from '../pipeline/core/errors.js';
import { loadConfigFile } from './config/load.js';
import { applyOverrides, resolveOverrides } from './config/overrides.js';
import { summarizeConfig } from './config/summary.js';
import { resolveToken } from './config/token.js';
import { resolveKafkaSecrets } from './config/kafka-secrets.js';
import { resolveMqttSecrets } from './config/mqtt-secrets.js';
import { checkZoneClasses } from './config/zone-classes.js';
import { createLogger } from './logger.js';
import { startDaemon, type Daemon } from './app.js';
import { ControlError } from './control/control-error.js';
import { installShutdown } from './shutdown.js';

const EXIT_OK = 0;
const EXIT_CRASH = 1;
const EXIT_USAGE = 2;
const EXIT_START_FAILED = 3;

const DEFAULT_CONFIG = fileURLToPath(new URL('../../config/default.yaml', import.meta.url));

/** How this CLI was invoked, for the usage text: `segd` when installed as a bin, else `node <path to cli.js>`. */
function programName(): string {
  const script = process.argv[1] ?? 'dist/daemon/cli.js';
  if (basename(script) === 'segd') return 'segd';
  const rel = relative(process.cwd(), script);
  return `node ${rel !== '' && !rel.startsWith('..') ? rel : script}`;
}

const USAGE = `Usage: ${programName()} <command> [options]

Commands:
  run [--config FILE] [--port N] [--host H]
                        start the daemon (default config: ${DEFAULT_CONFIG})
  check-config [FILE]   validate a config file: prints OK and a summary, or every problem (exit 2)

Options:
  -c, --config FILE     config file (env SEGD_CONFIG)
  -p, --port N          listen port, 0 = any free port (env SEGD_PORT)
      --host H          listen address (env SEGD_HOST)
  -h, --help            show this help
  -V, --version         print the version

Flags beat environment variables, which beat the config file.
SIGHUP (systemctl reload segd) makes a running daemon re-read its config file.
Runtime control (streams, model, reload) over HTTP: see docs/running.md, "Runtime control".
Exit codes: 0 ok, 1 crash, 2 bad usage or invalid config, 3 start-up failure (model, provider, listen).
`;

const version = segdVersion;

class UsageError extends Error {}

interface ParsedArgs {
  readonly command: string | undefined;
  readonly positionals: string[];
  readonly config: string | undefined;
  readonly port: string | undefined;
  readonly host: string | undefined;
  readonly help: boolean;
  readonly version: boolean;
}

function parse(argv: string[]): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string', short: 'c' },
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    });
    const [command, ...rest] = positionals;
    return {
      command,
      positionals: rest,
      config: values.config,
      port: values.port,
      host: values.host,
      help: values.help === true,
      version: values.version === true,
    };
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

function printConfigError(err: SegdError): void {
  process.stderr.write(`segd: ${err.code}: ${err.message}\n`);
}

function checkConfig(args: ParsedArgs): number {
  if (args.positionals.length > 1) throw new UsageError(`check-config takes one FILE, got ${args.positionals.length}`);
  const overrides = resolveOverrides(
    { configFlag: args.positionals[0] ?? args.config, portFlag: args.port, hostFlag: args.host, env: process.env },
    DEFAULT_CONFIG,
  );
  const cfg = resolveKafkaSecrets(resolveMqttSecrets(resolveToken(applyOverrides(loadConfigFile(overrides.configPath), overrides), process.env), process.env), process.env);
  checkZoneClasses(cfg);
  process.stdout.write(`OK ${overrides.configPath}\n${summarizeConfig(cfg).join('\n')}\n`);
  return EXIT_OK;
}

async function run(args: ParsedArgs): Promise<void> {
  if (args.positionals.length > 0) throw new UsageError(`run takes no arguments, got "${args.positionals.join(' ')}"`);
  const overrides = resolveOverrides(
    { configFlag: args.config, portFlag: args.port, hostFlag: args.host, env: process.env },
    DEFAULT_CONFIG,
  );
  const configPath = resolve(overrides.configPath);
  const load = (): ReturnType<typeof resolveToken> =>
    resolveKafkaSecrets(resolveMqttSecrets(resolveToken(applyOverrides(loadConfigFile(configPath), overrides), process.env), process.env), process.env);
  const cfg = load();
  const logger = createLogger({ level: cfg.log.level });
  logger.info({ version: version(), config: overrides.configPath }, 'segd starting');

  // SIGHUP's default action ends the process: the handler goes in first. A reload asked for
  // before the daemon is up has nothing to reload into (the file was just read).
  let running: Daemon | null = null;
  process.on('SIGHUP', () => {
    if (running === null) {
      logger.warn('SIGHUP during start-up: ignored (the config file was just read)');
      return;
    }
    running.reload().catch((err: unknown) => {
      // invalid_config: every violation is logged already, one line each.
      if (err instanceof ControlError) logger.warn({ code: err.code }, `config reload: ${err.message}`);
      else logger.error({ err }, 'config reload failed');
    });
  });

  // A stop requested while the model loads (TensorRT may build its engine for minutes): nothing
  // is streaming yet (sources start last), so leaving at once is the graceful stop.
  const stopDuringStart = (signal: NodeJS.Signals): void => {
    logger.info({ reason: signal }, 'stopped during start-up');
    process.exit(EXIT_OK);
  };
  process.once('SIGTERM', stopDuringStart);
  process.once('SIGINT', stopDuringStart);
  let daemon;
  try {
    daemon = await startDaemon(cfg, logger, { configFile: { path: configPath, load } });
    process.off('SIGTERM', stopDuringStart);
    process.off('SIGINT', stopDuringStart);
  } catch (err) {
    // Expected start-up failures get one clear line (log + stderr), not a stack trace.
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof SegdError) logger.fatal({ code: err.code, details: err.details }, `start-up failed: ${message}`);
    else logger.fatal({ err }, `start-up failed: ${message}`);
    process.stderr.write(`segd: start-up failed: ${err instanceof SegdError ? `${err.code}: ` : ''}${message}\n`);
    // A config that only the loaded model shows wrong (a zone's classes or size) is still a bad config: no restart helps.
    process.exit(err instanceof SegdError && err.code === 'SEGD_CONFIG_INVALID' ? EXIT_USAGE : EXIT_START_FAILED);
  }
  const d = daemon;
  running = d;
  const shutdown = installShutdown({ logger, stop: () => d.stop() });
  // The engine gave up: stop gracefully and exit 1, so systemd (Restart=on-failure) restarts us.
  void d.failed.then((err) => {
    logger.fatal({ err }, `inference engine failed; stopping: ${err.message}`);
    shutdown.begin('engine_failed', EXIT_CRASH);
  });
}

async function main(argv: string[]): Promise<number | null> {
  const args = parse(argv);
  if (args.help) {
    process.stdout.write(USAGE);
    return EXIT_OK;
  }
  if (args.version) {
    process.stdout.write(`${version()}\n`);
    return EXIT_OK;
  }
  switch (args.command) {
    case 'run':
      await run(args);
      return null; // keeps running; shutdown.ts exits
    case 'check-config':
      return checkConfig(args);
    case undefined:
      throw new UsageError('no command given (expected run or check-config)');
    default:
      throw new UsageError(`unknown command "${args.command}" (expected run or check-config)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== null) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`segd: ${err.message}\n\n${USAGE}`);
      process.exit(EXIT_USAGE);
    }
    if (err instanceof SegdError && (err.code === 'SEGD_CONFIG_INVALID' || err.code === 'SEGD_CONFIG_UNREADABLE')) {
      printConfigError(err);
      process.exit(EXIT_USAGE);
    }
    process.stderr.write(`segd: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(EXIT_CRASH);
  },
);
