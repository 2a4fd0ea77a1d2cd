/**
 * The daemon: sources → batcher → engine → publisher, with metrics, /healthz, /readyz and /ws.
 *
 * Start order: HTTP first (so /healthz answers and /readyz says "not ready" while a model loads
 * or TensorRT builds its engine), then the model (load + warm-up), then the publisher, batcher
 * and sources. Any failure undoes what was started and rejects with the cause (the CLI turns it
 * into one log line and exit code 3).
 */
import { createRequire } from 'node:module';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { Batcher } from '../pipeline/batching/batcher.js';
import { OnnxEngine } from '../pipeline/engine/index.js';
import type { Frame } from '../pipeline/core/frame.js';
import { StreamAnalyzer, type FrameAnalysis } from '../pipeline/core/frame-analysis.js';
import type { MqttPublisher } from '../pipeline/publish/mqtt-publisher.js';
import type { BatchFrames, BatchTiming, MaskResult } from '../pipeline/core/mask-result.js';
import { refuseUpgrade } from '../pipeline/publish/refuse-upgrade.js';
import { WsPublisher } from '../pipeline/publish/ws-publisher.js';
import { FfmpegSource, pacingOf, type SourceObserver } from '../pipeline/sources/index.js';
import { createRequestAuth, isLoopbackAddress } from './auth.js';
import type { SegdError } from '../pipeline/core/errors.js';
import type { SegdConfig } from './config/schema.js';
import { createHttpServer, type SegdHttpServer, type UpgradeTarget } from './http-server.js';
import { createLogger } from './logger.js';
import { createMetrics, type SegdMetrics } from './metrics.js';
import { createMqttPublisher } from './mqtt-wiring.js';
import { StreamStatusBoard, type StreamStatus } from './stream-status.js';
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
   * Graceful stop: sources stopped, the batch in flight finished and published, WebSocket
   * clients closed with 1001, model released. Idempotent. The 5 s hard deadline is the caller's
   * (daemon/shutdown.ts), since only the process can guarantee it.
   */
  stop(): Promise<void>;
}

/**
 * Frame buffers per source beyond the queue's frames: one being cut by ffmpeg, one being handed
 * over, and one that the pts matcher (sources/pts-matcher.ts) may hold for a turn of the event
 * loop while its showinfo line is read; with only 2, a loaded bench run dropped a frame as
 * `pool_exhausted`. A paused (backpressure) source parks at most these frames too.
 */
const POOL_EXTRA_FRAMES = 3;

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

export async function startDaemon(config: SegdConfig, logger: Logger = createLogger({ level: config.log.level })): Promise<Daemon> {
  const metrics = createMetrics({ streams: config.streams.map((s) => s.id), maxBatch: config.batching.maxBatch });
  const upgrades = new LateUpgradeTarget();
  // Streams are listed (state 'stopped', reason 'not_started') in /readyz while the model loads.
  const board = new StreamStatusBoard(config.streams, metrics);
  let engine: OnnxEngine | null = null;
  let batcher: Batcher | null = null;
  let mqtt: MqttPublisher | null = null;
  const sources: FfmpegSource[] = [];
  let engineFailed!: (err: SegdError) => void;
  const failed = new Promise<SegdError>((resolve) => (engineFailed = resolve));

  const http: SegdHttpServer = createHttpServer({
    metrics,
    publisher: upgrades,
    logger,
    auth: createRequestAuth(config.server.token),
    onUnauthorized: () => metrics.refused('unauthorized'),
    routes: viewerRoutes(logger), // the live viewer page at /
    readiness: () => ({ modelLoaded: engine !== null, modelWarmed: engine !== null, streams: board.readiness() }),
  });

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const t0 = Date.now();
      logger.info('daemon stopping');
      // Sources and queued frames stop together; the batch in flight still publishes.
      await Promise.all([...sources.map((s) => s.close()), batcher?.drain()]);
      // WebSocket clients get 1001 and the broker `offline`, together.
      await Promise.all([http.close(), mqtt?.close()]);
      await engine?.close();
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
    engine = await OnnxEngine.create({
      modelPath: m.path,
      ...(m.card !== null ? { cardPath: m.card } : {}),
      providers: m.providers,
      tensorrt: m.tensorrt,
      cpu: m.cpu,
      maxBatch: config.batching.maxBatch,
      warmupRuns: m.warmupRuns,
      logger,
      // The engine restarts a dead inference worker itself; this fires only once it has given up.
      onFailed: engineFailed,
    });
    const eng = engine;
    metrics.setModelInfo({ model: eng.card.name, architecture: eng.card.architecture, provider: eng.provider });

    // Per stream, once per frame: class areas (one pass over the mask) and zones, shared by every consumer.
    const classNames = eng.card.classes.map((c) => c.name);
    const analyzers = config.streams.map((s) => new StreamAnalyzer(s.id, eng.inputWidth, eng.inputHeight, classNames, s.zones));
    const analysis = new Map(
      analyzers.map((a, i) => [a.streamId, { analyzer: a, observe: metrics.analysisObserver(a.streamId, classNames, config.streams[i]?.zones ?? []) }]),
    );
    mqtt = createMqttPublisher(config.mqtt, { modelId: eng.card.name, classNames, analyzers, logger, metrics });
    const mq = mqtt;

    const publisherHooks = metrics.publisherHooks();
    const publisher = new WsPublisher({
      modelId: eng.card.name,
      modelCard: eng.card,
      streams: () => board.infos(eng.inputWidth, eng.inputHeight),
      logger,
      maxBufferedBytes: config.publish.maxBufferedBytes,
      maxClients: config.publish.maxClients,
      maxSubscriptionsPerClient: config.publish.maxSubscriptionsPerClient,
      maxMessageBytes: config.publish.maxMessageBytes,
      hooks: {
        ...publisherHooks,
        onFrameSent: (result, info) => {
          board.get(result.streamId).framesPublished++;
          publisherHooks.onFrameSent?.(result, info);
        },
        onDrop: (streamId, reason) => board.get(streamId).dropped(reason),
      },
    });
    upgrades.target = publisher;

    const b = new Batcher({
      engine: eng,
      // Pacing is decided here, once per stream (sources/pacing.ts): an unpaced file
      // (realtime: false) is paused while its queue is full and resumed when a batch takes its
      // frame, so none of its frames is dropped; every other source is newest-wins. The
      // callback reaches the source by index: `sources` is filled below in config order.
      streams: config.streams.map((cfg, i) => ({
        id: cfg.id,
        queueDepth: cfg.queueDepth,
        onQueueSpace:
          pacingOf(cfg) === 'backpressure'
            ? (hasRoom: boolean) => (hasRoom ? sources[i]?.resume() : sources[i]?.pause())
            : undefined,
      })),
      maxBatch: config.batching.maxBatch,
      maxDelayMs: config.batching.maxDelayMs,
      perStreamCap: config.batching.perStreamCap,
      logger,
      onBatch: (results: MaskResult[], timing: BatchTiming, frames: BatchFrames) => {
        metrics.observeBatch(timing);
        for (let i = 0; i < results.length; i++) {
          const r = results[i] as MaskResult;
          metrics.observeResultStages(r);
          board.get(r.streamId).metrics.frameInferred();
          const an = analysis.get(r.streamId);
          const a: FrameAnalysis | null = an ? an.analyzer.analyze(r) : null;
          if (an && a) an.observe(a);
          // The frame's pixels, for clients that asked for previews (valid during this call only).
          publisher.publish(r, frames.rgb(i), a);
          if (mq && a) publishMqtt(mq, a, logger);
        }
      },
      onDrop: (streamId, reason) => board.get(streamId).dropped(reason),
    });
    batcher = b;

    const ffmpegPath = config.ffmpeg.path ?? bundledFfmpeg();
    for (const cfg of config.streams) {
      sources.push(
        new FfmpegSource(cfg, {
          ffmpegPath,
          width: eng.inputWidth,
          height: eng.inputHeight,
          poolSize: cfg.queueDepth + POOL_EXTRA_FRAMES,
          decodeThreads: config.ffmpeg.threads,
          logger,
          observer: sourceObserver(board.get(cfg.id), b),
        }),
      );
    }
    // start() never blocks: an offline camera does not hold up the others.
    for (const s of sources) s.start();
    logger.info({ streams: sources.length, provider: eng.provider, model: eng.card.name }, 'ready');

    return { address, metrics, provider: eng.provider, failed, stop };
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

/** One observer per source, bound to that stream's status record (no lookups per frame). */
function sourceObserver(status: StreamStatus, batcher: Batcher): SourceObserver {
  const sm = status.metrics;
  return {
    onFrame(frame: Frame): void {
      sm.frameDecoded();
      batcher.offer(frame);
    },
    onState(_id, state, reason): void {
      status.setState(state, reason);
    },
    onRestart(_id, reason): void {
      sm.restarted(reason);
    },
    onDrop(_id, reason): void {
      status.dropped(reason);
    },
  };
}
