/**
 * The composition root: sources → batcher → engine → frame router → sinks (metrics, WebSocket,
 * MQTT), with /healthz, /readyz, /ws and the runtime control API (/api/: streams added, changed,
 * removed; the model swapped; the config file reloaded, also on SIGHUP through `reload()`). It
 * builds and connects the parts and nothing else: per-frame work lives in the router and sinks.
 *
 * Start order (daemon/lifecycle.ts; each part registers its closer, closed in reverse): HTTP first
 * (so /healthz answers and /readyz says "not ready" while a model loads or TensorRT builds its
 * engine), then the model (load + warm-up), then the sinks, the batcher and the sources. Any
 * failure closes what was started and rejects with the cause (the CLI turns it into one log line
 * and exit code 3). Close: sources and queued frames together (the batch in flight still
 * publishes), then WebSocket clients (1001) and the broker (`offline`) together, then the model.
 */
import { createRequire } from 'node:module';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { Batcher } from '../pipeline/batching/batcher.js';
import type { SegEngine } from '../pipeline/engine/index.js';
import { engineLoader } from './engine-factory.js';
import { StreamAnalyses, type AnalysisModel } from '../pipeline/analysis/stream-analyses.js';
import { FrameRouter } from '../pipeline/publish/frame-router.js';
import type { Sink, SinkModel } from '../pipeline/publish/sink.js';
import type { StreamConfig } from '../pipeline/core/stream-config.js';
import { refuseUpgrade } from '../pipeline/publish/refuse-upgrade.js';
import { WsPublisher } from '../pipeline/publish/ws-publisher.js';
import { SnapshotSink, paletteOf } from '../pipeline/publish/snapshot-sink.js';
import { createRequestAuth, isLoopbackAddress } from './auth.js';
import { SegdError } from '../pipeline/core/errors.js';
import { allowedSourceDirs } from './config/load.js';
import { chooseFfmpeg } from './ffmpeg-binary.js';
import { createOriginPolicy } from './origin-check.js';
import { MAX_STREAMS, SNAPSHOT_DEFAULTS, type SegdConfig } from './config/schema.js';
import { apiRoutes } from './api/api-routes.js';
import { sendError } from './api/api-http.js';
import { ConfigPersister } from './control/config-persist.js';
import { ConfigReloader, type ReloadResult } from './control/config-reload.js';
import { ControlError } from './control/control-error.js';
import { ModelSwap, type ModelChoice } from './control/model-swap.js';
import { StreamRegistry, batcherStreamOf } from './control/stream-registry.js';
import { createHttpServer, type SegdHttpServer, type UpgradeTarget } from './http-server.js';
import { createLogger } from './logger.js';
import { createMetrics, type SegdMetrics } from './metrics.js';
import { Lifecycle } from './lifecycle.js';
import { createKafkaSink } from './kafka-wiring.js';
import { createMqttPublisher } from './mqtt-wiring.js';
import { StatusSink } from './status-sink.js';
import { createWsPublisher } from './ws-wiring.js';
import { StreamStatusBoard } from './stream-status.js';
import { viewerRoutes } from './viewer-routes.js';

export interface Daemon {
  /** The bound HTTP/WebSocket address (the real port when the config said 0). */
  readonly address: { readonly host: string; readonly port: number };
  readonly metrics: SegdMetrics;
  /** Execution provider in use ('tensorrt' | 'cuda' | 'cpu'). */
  readonly provider: string;
  /**
   * Resolves (never rejects) once the daemon cannot do its job any more: the inference engine
   * gave up (restarts kept failing, or a run hung). Nothing can be inferred then; the owner stops
   * the daemon and exits non-zero, so systemd (Restart=on-failure) restarts it.
   */
  readonly failed: Promise<SegdError>;
  /**
   * Re-reads the config file and applies what changed (control/config-reload.ts); rejects with a
   * ControlError (`invalid_config`: nothing changed; `reload_unavailable`: started without a file).
   */
  reload(): Promise<ReloadResult>;
  /**
   * Graceful stop: sources stopped, the batch in flight finished and published, WebSocket
   * clients closed with 1001, model released. Idempotent. The 5 s hard deadline is the caller's
   * (daemon/shutdown.ts), since only the process can guarantee it.
   */
  stop(): Promise<void>;
}

export interface DaemonOptions {
  /**
   * The config file the daemon runs from, and how to read it again (with the command line's
   * overrides): enables reloads and `api.persist`. Absent: neither (relative API paths resolve
   * against the working directory).
   */
  readonly configFile?: { readonly path: string; readonly load: () => SegdConfig };
}

function bundledFfmpeg(): string {
  return (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;
}

/**
 * Until the publisher exists (model still loading), WebSocket upgrades get 503: the HTTP server
 * is created first and takes its upgrade target at construction.
 */
class LateUpgradeTarget implements UpgradeTarget {
  target: WsPublisher | null = null;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.target) return this.target.handleUpgrade(req, socket, head);
    refuseUpgrade(socket, 503);
  }
  close(): Promise<void> {
    return this.target ? this.target.close(1001) : Promise.resolve();
  }
}

export async function startDaemon(
  config: SegdConfig,
  logger: Logger = createLogger({ level: config.log.level }),
  options: DaemonOptions = {},
): Promise<Daemon> {
  const metrics = createMetrics({ streams: config.streams.map((s) => s.id), maxBatch: config.batching.maxBatch });
  const life = new Lifecycle(logger);
  const upgrades = new LateUpgradeTarget();
  // Streams are listed (state 'stopped', reason 'not_started') in /readyz while the model loads.
  const board = new StreamStatusBoard(config.streams, metrics);
  const late: { api: RequestListener | null; ready: boolean; swap: ModelSwap | null; engine: SegEngine | null } = { api: null, ready: false, swap: null, engine: null };
  let engineFailed!: (err: SegdError) => void;
  const failed = new Promise<SegdError>((resolve) => (engineFailed = resolve));
  const configFile = options.configFile ?? null;

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const t0 = Date.now();
      logger.info('daemon stopping');
      await life.close();
      logger.info({ ms: Date.now() - t0 }, 'daemon stopped');
    })();
    return stopping;
  };

  try {
    const http = await life.start(
      'http',
      () =>
        createHttpServer({
          metrics,
          publisher: upgrades,
          logger,
          auth: createRequestAuth(config.server.token),
          onUnauthorized: () => metrics.refused('unauthorized'),
          origins: createOriginPolicy(config.server.allowedOrigins, { loopbackOnly: isLoopbackAddress(config.server.host) || config.server.host === 'localhost' }),
          maxConnections: config.server.maxConnections,
          routes: viewerRoutes(logger), // the live viewer page at /
          api: (req: IncomingMessage, res: ServerResponse) => {
            if (late.api !== null) return late.api(req, res);
            sendError(res, new ControlError('not_ready', null, 'a daemon whose model is loaded', 'the model is still loading; retry when /readyz says ready'));
          },
          readiness: () => ({
            modelLoaded: late.ready,
            modelWarmed: late.ready,
            inferenceUnavailable: (late.swap?.engine ?? late.engine)?.unavailableReason ?? null,
            streams: board.readiness(),
          }),
        }),
      (h) => h.close(),
    );
    const address = await listen(http, config, logger);

    const m = config.model;
    const loadEngine = engineLoader(config, logger, metrics, engineFailed);
    const initialChoice: ModelChoice = { path: m.path, card: m.card };
    // After a swap the ModelSwap owns the serving engine (and the one loading).
    const eng = await life.start('model', () => loadEngine(initialChoice), (e) => (late.swap ?? e).close());
    late.engine = eng;
    late.ready = true;
    metrics.setModelInfo({ model: eng.card.name, architecture: eng.card.architecture, provider: eng.provider });
    /** The engine serving now (a swap replaces it). */
    const serving = (): SegEngine => late.swap?.engine ?? eng;

    // Class areas and zones, once per frame per stream; a bad zone at start-up is a config error.
    const analyses = new StreamAnalyses(analysisModelOf(eng));
    const initial = config.streams.map((cfg) => asConfigError(() => analyses.set(cfg)).analyzer);
    const mqtt = createMqttPublisher(config.mqtt, {
      modelId: eng.card.name,
      classNames: eng.card.classes.map((c) => c.name),
      analyzers: initial.filter((a) => a !== null),
      logger,
      metrics,
    });
    const kafka = createKafkaSink(config.kafka, {
      model: { name: eng.card.name, classNames: eng.card.classes.map((c) => c.name) },
      analyzers: initial.filter((a) => a !== null),
      logger,
      metrics,
    });
    const ws = createWsPublisher(config.publish, {
      model: { id: eng.card.name, card: eng.card },
      inputSize: () => ({ width: serving().inputWidth, height: serving().inputHeight }),
      board,
      metrics,
      logger,
    });
    upgrades.target = ws;
    const status = new StatusSink(board, metrics);
    const snap = config.mqtt?.homeAssistant.snapshots ?? SNAPSHOT_DEFAULTS;
    const snapshots = new SnapshotSink({
      palette: paletteOf(eng.card),
      opacity: snap.opacity,
      quality: snap.quality,
      minIntervalMs: snap.minIntervalMs,
      streams: config.streams.map((s) => ({ id: s.id, zones: s.zones })),
      publish: mqtt !== null && snap.enabled ? (id, zones, jpeg) => mqtt.publishSnapshot(id, zones, jpeg) : null,
      logger,
      hooks: metrics.snapshotHooks(),
    });
    const sinks: Sink[] = [status, ws, ...(mqtt !== null ? [mqtt] : []), ...(kafka !== null ? [kafka] : []), snapshots];
    for (const a of initial) if (a !== null) status.onStreamChanged({ reason: 'added', streamId: a.streamId, analyzer: a, ended: [], removedZones: [] });
    // WebSocket clients get 1001 and the brokers `offline`, together.
    life.onClose('http + sinks', () => Promise.all([http.close(), ...sinks.map((s) => s.close())]).then(() => undefined));
    const router = new FrameRouter({ analyses, sinks, logger, onBatch: (timing) => metrics.observeBatch(timing) });

    const batcher = await life.start(
      'batcher',
      () =>
        new Batcher({
          engine: eng,
          // The callbacks reach each stream's current source through the registry (filled below).
          streams: config.streams.map((cfg) => batcherStreamOf(cfg, (id) => registry.sourceOf(id))),
          maxBatch: config.batching.maxBatch,
          maxDelayMs: config.batching.maxDelayMs,
          perStreamCap: config.batching.perStreamCap,
          logger,
          onBatch: (results, timing, frames) => router.route(results, timing, frames),
          onDrop: (streamId, reason) => board.find(streamId)?.dropped(reason),
        }),
      (b) => b.drain(),
    );

    const ffmpeg = chooseFfmpeg(config.ffmpeg.path, bundledFfmpeg);
    logger.info({ path: ffmpeg.path, version: ffmpeg.version, source: ffmpeg.source, systemSkipped: ffmpeg.systemSkipped }, 'ffmpeg');
    const registry: StreamRegistry = new StreamRegistry({
      batcher,
      board,
      ffmpegPath: ffmpeg.path,
      decodeThreads: config.ffmpeg.threads,
      logger,
      inputSize: () => ({ width: serving().inputWidth, height: serving().inputHeight }),
      maxStreams: MAX_STREAMS,
      // A zone naming a class the serving model lacks (or covering no pixel) is refused, not run without zones;
      // the analyzer built to check it is the one the change then runs.
      check: (cfg) => checkZones(analyses, cfg, serving().card.name),
      onChanged: (change, id) => router.streamChanged(change, id, registry.get(id) ?? null),
    });
    // Sources stop and queued frames go together; the batch in flight still publishes.
    life.onClose('sources + batcher', () => Promise.all([registry.close(), batcher.drain()]).then(() => undefined));

    const swap = new ModelSwap({
      initial: eng,
      initialChoice,
      batcher,
      load: loadEngine,
      onSwitched: (next, previous) => {
        // Synchronous, between two batches: the card reaches every client before the first mask of `next`;
        // class areas and zones follow the new model's classes and size.
        router.modelChanged({ ...sinkModelOf(next), ...analysisModelOf(next) }, registry.list());
        if (next.inputWidth !== previous.inputWidth || next.inputHeight !== previous.inputHeight) {
          // ffmpeg scales to the model's input: every source restarts at the new size.
          void registry.restartAll().catch((err: unknown) => logger.error({ err }, 'restarting the sources at the new input size failed'));
        }
      },
      logger,
    });
    late.swap = swap;

    const persister = configFile !== null && config.api.persist ? new ConfigPersister(configFile.path, logger) : null;
    const reloader =
      configFile !== null ? new ConfigReloader({ load: configFile.load, source: configFile.path, startConfig: config, registry, models: swap, logger }) : null;
    late.api = apiRoutes({
      registry,
      models: swap,
      status: (id) => board.find(id),
      reload: reloader !== null ? () => reloader.reload() : null,
      persist: persister !== null ? () => persister.persist({ streams: registry.list(), model: swap.choice }) : null,
      baseDir: configFile !== null ? dirname(configFile.path) : process.cwd(),
      allowedDirs: allowedSourceDirs(configFile !== null ? dirname(configFile.path) : process.cwd(), config.sources.allowedDirs),
      snapshot: (id, timeoutMs) => snapshots.request(id, timeoutMs),
      logger,
    });

    registry.startInitial(config.streams);
    logger.info({ streams: registry.size, provider: eng.provider, model: eng.card.name }, 'ready');

    const reload = (): Promise<ReloadResult> =>
      reloader !== null
        ? reloader.reload()
        : Promise.reject(new ControlError('reload_unavailable', null, 'a daemon started with --config FILE', 'the daemon runs without a config file to re-read'));
    return { address, metrics, provider: eng.provider, failed, reload, stop };
  } catch (err) {
    await stop().catch((e: unknown) => logger.error({ err: e }, 'cleanup after a failed start failed'));
    throw err;
  }
}

/** Binds the server and logs where it listens (and a warning when it is reachable without a token). */
async function listen(http: SegdHttpServer, config: SegdConfig, logger: Logger): Promise<Daemon['address']> {
  const addr = await http.listen(config.server.host, config.server.port);
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  logger.info(
    { host: addr.address, port: addr.port, ws: `ws://${urlHost}:${addr.port}/ws`, metrics: `http://${urlHost}:${addr.port}/metrics` },
    'listening',
  );
  if (config.server.token === null && !isLoopbackAddress(addr.address)) {
    logger.warn(
      { host: addr.address },
      'listening beyond loopback without a token: anyone who can reach this port sees the masks and metrics; set server.token, server.tokenFile or SEGD_TOKEN',
    );
  }
  return { host: addr.address, port: addr.port };
}

function analysisModelOf(e: SegEngine): AnalysisModel {
  return { width: e.inputWidth, height: e.inputHeight, classNames: e.card.classes.map((c) => c.name) };
}

function sinkModelOf(e: SegEngine): SinkModel {
  return { id: e.card.name, card: e.card, classNames: e.card.classes.map((c) => c.name), architecture: e.card.architecture, provider: e.provider };
}

/** A zone of the config file that does not fit the model is a config error (the daemon owns SEGD_CONFIG_*). */
function asConfigError<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof SegdError && err.code === 'SEGD_ZONE_INVALID') throw new SegdError('SEGD_CONFIG_INVALID', err.message, err.details, { cause: err });
    throw err;
  }
}

/** The control API's check of a stream's zones against the serving model: 400 invalid_stream naming the zone and field. */
function checkZones(analyses: StreamAnalyses, cfg: StreamConfig, modelName: string): void {
  try {
    analyses.prepare(cfg);
  } catch (err) {
    if (!(err instanceof SegdError)) throw err;
    const expected = `zones whose classes the serving model ${modelName} has (GET /api/model) and whose polygons cover pixels`;
    throw new ControlError('invalid_stream', 'zones', expected, err.details[0] ?? err.message, err.details);
  }
}
