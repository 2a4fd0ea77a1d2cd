/** What the publisher's parts (admission, sessions, fan-out) and its users share. */
import type { DropReason, StreamState, WsRefusal } from '../core/reasons.js';
import type { MaskResult } from '../core/mask-result.js';
import type { PreviewObserver } from './preview-messages.js';
import type { MaskEncoding } from './protocol.js';

export type { WsRefusal };

/** What `list_streams` reports for one stream (the daemon fills it; the URL is already redacted). */
export interface StreamInfo {
  readonly id: string;
  readonly state: StreamState;
  readonly url: string;
  readonly width: number;
  readonly height: number;
  readonly framesPublished?: number;
  readonly drops?: Readonly<Partial<Record<DropReason, number>>>;
  /** The stream's zones (config), for clients that draw them. */
  readonly zones?: readonly { readonly name: string; readonly polygon: readonly (readonly number[])[]; readonly classes: readonly string[] }[];
}

export interface FrameSentInfo {
  /** Clients the frame was sent to. */
  readonly clients: number;
  /** Clients that skipped it for being over maxBufferedBytes. */
  readonly skippedSlow: number;
  /** publish() was called. */
  readonly publishStartNs: bigint;
  /** Every send of the frame was written to its socket (or failed because the client left). */
  readonly sentAtNs: bigint;
}

/** Metric hooks; all optional, chosen at construction. */
export interface PublisherHooks {
  /** Once per frame per encoding actually produced. */
  onEncoded?(encoding: MaskEncoding, seconds: number): void;
  /** Once per published frame, after its last send completed (at once when no client wanted it). */
  onFrameSent?(result: MaskResult, info: FrameSentInfo): void;
  /** Once per client that skipped a frame. */
  onDrop?(streamId: string, reason: Extract<DropReason, 'slow_client'>): void;
  /** After every connect / disconnect. */
  onClientCount?(count: number): void;
  /** Once per refused connection or control message. */
  onRefused?(reason: WsRefusal): void;
  /** Once per preview JPEG produced (downscale + encode time, JPEG bytes). */
  onPreviewEncoded?: PreviewObserver;
}
