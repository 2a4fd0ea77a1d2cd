/**
 * The daemon: sources → batcher → engine → publisher, with metrics, /healthz, /readyz, /ws and
 * the runtime control API (/api/: streams added, changed, removed; the model swapped; the config
 * file reloaded, also on SIGHUP through `reload()`).
 *
 * Start order: HTTP first (so /healthz answers and /readyz says "not ready" while a model loads
 * or TensorRT builds its engine), then the model (load + warm-up), then the publisher, batcher
 * and sources. Any failure undoes what was started and rejects with the cause (the CLI turns it
 * into one log line and exit code 3).
 */
import { createRequire } from 'node:module';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { Batcher } from '../pipeline/batching/batcher.js';
import { OnnxEngine, type OnnxEngineOptions } from '../pipeline/engine/index.js';
import { StreamAnalyzer, type FrameAnalysis } from '../pipeline/analysis/frame-analysis.js';
import type { StreamConfig } from '../pipeline/core/stream-config.js';
import type { MqttPublisher } from '../pipeline/publish/mqtt-publisher.js';
import type { BatchFrames, BatchTiming, MaskResult } from '../pipeline/core/mask-result.js';
import { refuseUpgrade } from '../pipeline/publish/refuse-upgrade.js';
import { WsPublisher } from '../pipeline/publish/ws-publisher.js';
import { createRequestAuth, isLoopbackAddress } from './auth.js';
import { SegdError } from '../pipeline/core/errors.js';
import { MAX_STREAMS, type SegdConfig } from './config/schema.js';
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
import { createMqttPublisher, mqttStreamInfo } from './mqtt-wiring.js';
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
  const upgrades = new LateUpgradeTarget();
  // Streams are listed (state 'stopped', reason 'not_started') in /readyz while the model loads.
  const board = new StreamStatusBoard(config.streams, metrics);
  let engine: OnnxEngine | null = null;
  let models: ModelSwap | null = null;
  let batcher: Batcher | null = null;
  let mqtt: MqttPublisher | null = null;
  let registry: StreamRegistry | null = null;
  let api: RequestListener | null = null;
  let engineFailed!: (err: SegdError) => void;
  const failed = new Promise<SegdError>((resolve) => (engineFailed = resolve));
  const configFile = options.configFile ?? null;

  const http: SegdHttpServer = createHttpServer({
    metrics,
    publisher: upgrades,
    logger,
    auth: createRequestAuth(config.server.token),
    onUnauthorized: () => metrics.refused('unauthorized'),
    routes: viewerRoutes(logger), // the live viewer page at /
    api: (req: IncomingMessage, res: ServerResponse) => {
      if (api !== null) return api(req, res);
      sendError(res, new ControlError('not_ready', null, 'a daemon whose model is loaded', 'the model is still loading; retry when /readyz says ready'));
    },
    readiness: () => ({ modelLoaded: engine !== null, modelWarmed: engine !== null, streams: board.readiness() }),
  });

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const t0 = Date.now();
      logger.info('daemon stopping');
      // Sources and queued frames stop together; the batch in flight still publishes.
      await Promise.all([registry?.close(), batcher?.drain()]);
      // WebSocket clients get 1001 and the broker `offline`, together.
      await Promise.all([http.close(), mqtt?.close()]);
      await (models !== null ? models.close() : engine?.close());
      logger.info({ ms: Date.now() - t0 }, 'daemon stopped');
    })();
    return stopping;
  };

  try {
    const addr = await http.listen(config.server.host, config.server.port);
    const address = { host: addr.address, port: addr.port };
    const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    logger.info(
      { ...address, ws: `ws://${urlHost}:${addr.port}/ws`, metrics: `http://${urlHost}:${addr.port}/metrics` },
      'listening',
    );
    if (config.server.token === null && !isLoopbackAddress(addr.address)) {
      logger.warn(
        { host: addr.address },
        'listening beyond loopback without a token: anyone who can reach this port sees the masks and metrics; set server.token, server.tokenFile or SEGD_TOKEN',
      );
    }

    const m = config.model;
    const engineOptions = (choice: ModelChoice): OnnxEngineOptions => ({
      modelPath: choice.path,
      ...(choice.card !== null ? { cardPath: choice.card } : {}),
      providers: m.providers,
      tensorrt: m.tensorrt,
      cpu: m.cpu,
      maxBatch: config.batching.maxBatch,
      warmupRuns: m.warmupRuns,
      logger,
      // The engine restarts a dead inference worker itself; this fires only once it has given up.
      onFailed: engineFailed,
    });
    const initialChoice: ModelChoice = { path: m.path, card: m.card };
    engine = await OnnxEngine.create(engineOptions(initialChoice));
    const eng = engine;
    metrics.setModelInfo({ model: eng.card.name, architecture: eng.card.architecture, provider: eng.provider });
    /** The engine serving now (a swap replaces it). */
    const serving = (): OnnxEngine => models?.engine ?? eng;

    // Per stream, once per frame: class areas (one pass over the mask) and zones, shared by every consumer.
    // Rebuilt when a stream is added or changed, or the model swapped (classes and size follow it).
    const analysis = new Map<string, { analyzer: StreamAnalyzer; observe: (a: FrameAnalysis) => void }>();
    let running = false;
    const setAnalysis = (cfg: StreamConfig, model: OnnxEngine): void => {
      const classNames = model.card.classes.map((c) => c.name);
      let analyzer: StreamAnalyzer;
      try {
        analyzer = new StreamAnalyzer(cfg.id, model.inputWidth, model.inputHeight, classNames, cfg.zones);
      } catch (err) {
        if (!running) throw err; // at start-up: a bad zone is a config error, the daemon does not start
        // At run time the stream runs on without areas or zones; the error names stream, zone and field.
        logger.error({ err, stream: cfg.id }, 'class areas and zones off for this stream');
        dropAnalysis(cfg.id);
        return;
      }
      analysis.set(cfg.id, { analyzer, observe: metrics.analysisObserver(cfg.id, classNames, cfg.zones) });
      mqtt?.setStream(mqttStreamInfo(analyzer));
    };
    const dropAnalysis = (id: string): void => {
      analysis.delete(id);
      metrics.removeAnalysis(id);
      mqtt?.removeStream(id);
    };
    for (const cfg of config.streams) setAnalysis(cfg, eng);
    mqtt = createMqttPublisher(config.mqtt, {
      modelId: eng.card.name,
      classNames: eng.card.classes.map((c) => c.name),
      analyzers: [...analysis.values()].map((x) => x.analyzer),
      logger,
      metrics,
    });
    const mq = mqtt;

    const publisherHooks = metrics.publisherHooks();
    const publisher = new WsPublisher({
      modelId: eng.card.name,
      modelCard: eng.card,
      streams: () => board.infos(serving().inputWidth, serving().inputHeight),
      logger,
      maxBufferedBytes: config.publish.maxBufferedBytes,
      maxClients: config.publish.maxClients,
      maxSubscriptionsPerClient: config.publish.maxSubscriptionsPerClient,
      maxMessageBytes: config.publish.maxMessageBytes,
      hooks: {
        ...publisherHooks,
        onFrameSent: (result, info) => {
          // find, not get: the stream may have been removed while its last frame was being sent.
          const status = board.find(result.streamId);
          if (status !== undefined) status.framesPublished++;
          publisherHooks.onFrameSent?.(result, info);
        },
        onDrop: (streamId, reason) => board.find(streamId)?.dropped(reason),
      },
    });
    upgrades.target = publisher;

    const b = new Batcher({
      engine: eng,
      // The callbacks reach each stream's current source through the registry (filled below).
      streams: config.streams.map((cfg) => batcherStreamOf(cfg, (id) => registry?.sourceOf(id))),
      maxBatch: config.batching.maxBatch,
      maxDelayMs: config.batching.maxDelayMs,
      perStreamCap: config.batching.perStreamCap,
      logger,
      onBatch: (results: MaskResult[], timing: BatchTiming, frames: BatchFrames) => {
        metrics.observeBatch(timing);
        for (let i = 0; i < results.length; i++) {
          const r = results[i] as MaskResult;
          const status = board.find(r.streamId);
          if (status === undefined) continue; // removed while its frame was being inferred
          metrics.observeResultStages(r);
          status.metrics.frameInferred();
          const an = analysis.get(r.streamId);
          const a: FrameAnalysis | null = an ? an.analyzer.analyze(r) : null;
          if (an && a) an.observe(a);
          // The frame's pixels, for clients that asked for previews (valid during this call only).
          publisher.publish(r, frames.rgb(i), a);
          if (mq !== null && a !== null) publishMqtt(mq, a, logger);
        }
      },
      onDrop: (streamId, reason) => board.find(streamId)?.dropped(reason),
    });
    batcher = b;

    const reg = new StreamRegistry({
      batcher: b,
      board,
      ffmpegPath: config.ffmpeg.path ?? bundledFfmpeg(),
      decodeThreads: config.ffmpeg.threads,
      logger,
      inputSize: () => ({ width: serving().inputWidth, height: serving().inputHeight }),
      maxStreams: MAX_STREAMS,
      // A zone naming a class the serving model lacks (or covering no pixel) is refused, not run without zones.
      check: (cfg) => {
        const model = serving();
        try {
          new StreamAnalyzer(cfg.id, model.inputWidth, model.inputHeight, model.card.classes.map((c) => c.name), cfg.zones);
        } catch (err) {
          if (!(err instanceof SegdError)) throw err;
          const expected = `zones whose classes the serving model ${model.card.name} has (GET /api/model) and whose polygons cover pixels`;
          throw new ControlError('invalid_stream', 'zones', expected, err.details[0] ?? err.message, err.details);
        }
      },
      onChanged: (change, id) => {
        const cfg = reg.get(id);
        if (change === 'removed' || cfg === undefined) dropAnalysis(id);
        else setAnalysis(cfg, serving());
        publisher.streamsChanged(change, [id]);
      },
    });
    registry = reg;
    const swap = new ModelSwap({
      initial: eng,
      initialChoice,
      batcher: b,
      load: (choice) => OnnxEngine.create(engineOptions(choice)),
      onSwitched: (next, previous) => {
        // Synchronous, between two batches: the card reaches every client before the first mask of `next`.
        publisher.setModel(next.card.name, next.card);
        metrics.setModelInfo({ model: next.card.name, architecture: next.card.architecture, provider: next.provider });
        // Class areas and zones follow the new model's classes and size.
        mqtt?.setModel(next.card.name, next.card.classes.map((c) => c.name));
        for (const cfg of reg.list()) setAnalysis(cfg, next);
        if (next.inputWidth !== previous.inputWidth || next.inputHeight !== previous.inputHeight) {
          // ffmpeg scales to the model's input: every source restarts at the new size.
          void reg.restartAll().catch((err: unknown) => logger.error({ err }, 'restarting the sources at the new input size failed'));
        }
      },
      logger,
    });
    models = swap;

    const persister = configFile !== null && config.api.persist ? new ConfigPersister(configFile.path, logger) : null;
    const reloader =
      configFile !== null ? new ConfigReloader({ load: configFile.load, source: configFile.path, startConfig: config, registry: reg, models: swap, logger }) : null;
    api = apiRoutes({
      registry: reg,
      models: swap,
      status: (id) => board.find(id),
      reload: reloader !== null ? () => reloader.reload() : null,
      persist: persister !== null ? () => persister.persist({ streams: reg.list(), model: swap.choice }) : null,
      baseDir: configFile !== null ? dirname(configFile.path) : process.cwd(),
      logger,
    });

    reg.startInitial(config.streams);
    running = true;
    logger.info({ streams: reg.size, provider: eng.provider, model: eng.card.name }, 'ready');

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

/** The broker's trouble is never the pipeline's: a throw here is logged and the frame goes on. */
function publishMqtt(mqtt: MqttPublisher, a: FrameAnalysis, logger: Logger): void {
  try {
    mqtt.publish(a);
  } catch (err) {
    logger.error({ err, stream: a.result.streamId, seq: a.result.seq }, 'mqtt publish failed; segmentation continues');
  }
}
