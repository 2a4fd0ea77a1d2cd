/**
 * Who is connected: WebSocket upgrades accepted or refused (publisher closing, publish.maxClients),
 * one ClientSession per client, the ping heartbeat that drops clients that stopped answering, and
 * the closing handshake with every client on shutdown.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ClientSession } from './client-session.js';
import { errorReply } from './control-messages.js';
import { MAX_INCOMING_MESSAGE_BYTES } from './protocol.js';
import type { WsRefusal } from './publisher-types.js';
import { refuseUpgrade } from './refuse-upgrade.js';

/** WebSocket close code 1013 "try again later": sent to a client over publish.maxClients. */
export const CLOSE_TRY_AGAIN_LATER = 1013;

export interface ClientAdmissionOptions {
  readonly maxClients: number;
  /** Clients from one remote address (behind a reverse proxy, all clients share its address). */
  readonly maxClientsPerAddress: number;
  /** Ping period; a client that did not answer the previous ping is dropped. 0 disables. */
  readonly pingIntervalMs: number;
  /** How long close() waits for closing handshakes before cutting connections. */
  readonly closeTimeoutMs: number;
  readonly logger: Logger;
  readonly refuse: (reason: WsRefusal) => void;
  readonly onClientCount: ((count: number) => void) | null;
  /** The session of an admitted client (not started yet). */
  readonly createSession: (id: number, ws: WebSocket, log: Logger) => ClientSession;
}

export class ClientAdmission {
  /** The connected clients, in connection order (the fan-out iterates it). */
  readonly sessions = new Set<ClientSession>();
  private readonly opts: ClientAdmissionOptions;
  private readonly log: Logger;
  private readonly wss: WebSocketServer;
  private readonly heartbeat: NodeJS.Timeout | null;
  private nextClientId = 1;
  /** Connected clients per remote address. */
  private readonly perAddress = new Map<string, number>();
  private closePromise: Promise<void> | null = null;
  private resolveClosed: (() => void) | null = null;

  constructor(opts: ClientAdmissionOptions) {
    this.opts = opts;
    this.log = opts.logger;
    // Masks are compressed by the publisher (once per frame, not once per client): no permessage-deflate.
    this.wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false, maxPayload: MAX_INCOMING_MESSAGE_BYTES });
    this.heartbeat = opts.pingIntervalMs > 0 ? setInterval(() => this.pingAll(), opts.pingIntervalMs).unref() : null;
  }

  /** True once close() was called. */
  get closing(): boolean {
    return this.closePromise !== null;
  }

  /** Hand over an HTTP upgrade whose path the HTTP server already matched (`/ws`). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closePromise) return refuseUpgrade(socket, 503);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req));
  }

  /** Closes every client with `code` and stops accepting new ones. Idempotent. */
  close(code: number): Promise<void> {
    if (this.closePromise) return this.closePromise;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.closePromise = new Promise<void>((resolve) => {
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        this.resolveClosed = null;
        clearTimeout(cutoff);
        this.wss.close(() => resolve());
      };
      // Clients that do not complete the closing handshake in time are cut off.
      const cutoff = setTimeout(() => {
        for (const s of this.sessions) s.ws.terminate();
      }, this.opts.closeTimeoutMs);
      cutoff.unref();
      if (this.sessions.size === 0) {
        finish();
        return;
      }
      this.resolveClosed = finish;
      for (const s of this.sessions) s.ws.close(code, 'going away');
    });
    return this.closePromise;
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const id = this.nextClientId++;
    const log = this.log.child({ client: id });
    if (this.closePromise) {
      // Upgrade completed while closing: refuse politely, then for sure.
      ws.close(1001, 'going away');
      setTimeout(() => ws.terminate(), this.opts.closeTimeoutMs).unref();
      return;
    }
    const max = this.opts.maxClients;
    const remote = req.socket.remoteAddress ?? '';
    const fromRemote = this.perAddress.get(remote) ?? 0;
    if (this.sessions.size >= max) {
      this.turnAway(ws, log, remote, `at most ${max} clients (publish.maxClients)`, 'the server is full', 'publish.maxClients reached');
      return;
    }
    if (fromRemote >= this.opts.maxClientsPerAddress) {
      const perMax = this.opts.maxClientsPerAddress;
      this.turnAway(ws, log, remote, `at most ${perMax} clients from one address (publish.maxClientsPerAddress)`, `${fromRemote} clients from ${remote} already`, 'publish.maxClientsPerAddress reached');
      return;
    }
    this.perAddress.set(remote, fromRemote + 1);
    const session = this.opts.createSession(id, ws, log);
    this.sessions.add(session);
    log.info({ remote: req.socket.remoteAddress, clients: this.sessions.size }, 'ws client connected');
    this.opts.onClientCount?.(this.sessions.size);
    ws.on('error', (err) => {
      // ws closes with 1009 on its own for a message over maxPayload; count it with the other refusals.
      if ((err as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.opts.refuse('message_too_large');
      log.debug({ err }, 'ws client error');
    });
    ws.on('close', (code) => {
      const left = (this.perAddress.get(remote) ?? 1) - 1;
      if (left > 0) this.perAddress.set(remote, left);
      else this.perAddress.delete(remote);
      this.sessions.delete(session);
      session.ended();
      log.info({ code, clients: this.sessions.size }, 'ws client disconnected');
      this.opts.onClientCount?.(this.sessions.size);
      if (this.sessions.size === 0 && this.resolveClosed) this.resolveClosed();
    });
    session.start();
  }

  /** Refused for a limit: told why (`too_many_clients`), closed with 1013, cut off if it does not close. */
  private turnAway(ws: WebSocket, log: Logger, remote: string, expected: string, problem: string, logText: string): void {
    this.opts.refuse('too_many_clients');
    log.warn({ remote }, `ws client refused: ${logText}`);
    ws.on('error', (err) => log.debug({ err }, 'ws client error'));
    ws.send(JSON.stringify(errorReply('too_many_clients', null, expected, problem)));
    ws.close(CLOSE_TRY_AGAIN_LATER, 'too many clients');
    setTimeout(() => ws.terminate(), this.opts.closeTimeoutMs).unref();
  }

  private pingAll(): void {
    for (const s of this.sessions) {
      if (!s.answeredPing) {
        this.log.info({ client: s.id }, 'ws client did not answer ping; disconnecting');
        s.ws.terminate();
        continue;
      }
      s.answeredPing = false;
      s.ws.ping();
    }
  }
}
