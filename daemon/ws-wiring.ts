/**
 * The WebSocket publisher as the config asks for it, its hooks feeding the metrics and the
 * per-stream status (frames published, drops) that `list_streams` and /readyz report.
 */
import type { Logger } from 'pino';
import { WsPublisher } from '../pipeline/publish/ws-publisher.js';
import type { SegdConfig } from './config/schema.js';
import type { SegdMetrics } from './metrics.js';
import type { StreamStatusBoard } from './stream-status.js';

export interface WsWiring {
  readonly model: { readonly id: string; readonly card: unknown };
  /** The model input size: the size every stream's frames are scaled to. */
  readonly inputSize: () => { readonly width: number; readonly height: number };
  readonly board: StreamStatusBoard;
  readonly metrics: SegdMetrics;
  readonly logger: Logger;
}

export function createWsPublisher(publish: SegdConfig['publish'], w: WsWiring): WsPublisher {
  const hooks = w.metrics.publisherHooks();
  return new WsPublisher({
    modelId: w.model.id,
    modelCard: w.model.card,
    streams: () => w.board.infos(w.inputSize().width, w.inputSize().height),
    logger: w.logger,
    maxBufferedBytes: publish.maxBufferedBytes,
    maxClients: publish.maxClients,
    maxClientsPerAddress: publish.maxClientsPerAddress,
    maxSubscriptionsPerClient: publish.maxSubscriptionsPerClient,
    maxMessageBytes: publish.maxMessageBytes,
    hooks: {
      ...hooks,
      onFrameSent: (result, info) => {
        // find, not get: the stream may have been removed while its last frame was being sent.
        const status = w.board.find(result.streamId);
        if (status !== undefined) status.framesPublished++;
        hooks.onFrameSent?.(result, info);
      },
      onDrop: (streamId, reason) => w.board.find(streamId)?.dropped(reason),
    },
  });
}
