/** One camera/stream as validated from the config file (daemon/config). */
export interface StreamConfig {
  /** Unique id, [A-Za-z0-9_-]{1,64}: used in logs, metric labels and the WebSocket protocol. */
  readonly id: string;
  /**
   * Source URL. Schemes: file:// (or a plain path), rtsp://, rtsps://, http://, https:// (incl. HLS
   * .m3u8), v4l2:///dev/videoN. May carry credentials (rtsp://user:pass@host/...): redact before
   * logging (pipeline/core/redact.ts).
   */
  readonly url: string;
  /** file: restart from the beginning at EOF. Default true for files. */
  readonly loop: boolean;
  /**
   * file: pace at native frame rate (ffmpeg -re). Default true; false = no clock of its own, paced
   * by the pipeline (backpressure, sources/pacing.ts).
   */
  readonly realtime: boolean;
  /** rtsp: transport. Default 'tcp'. */
  readonly rtspTransport: 'tcp' | 'udp';
  /** Expected frames/s; scales the stall watchdog. Default 10 if the stream does not say. */
  readonly expectedFps: number;
  /** Optional output rate cap (ffmpeg fps filter); null = native rate. */
  readonly maxFps: number | null;
  /** Newest-wins queue depth between decode and the batcher. Default 1. */
  readonly queueDepth: number;
}
