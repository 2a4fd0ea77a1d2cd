// segd live viewer: every stream's frame with its class mask blended over it.
// Plain ES module, no framework, no external requests. Protocol decoding is the reference client's
// (clients/ts/protocol-client.ts, compiled), served by the daemon at ./protocol-client.js.
//
// Frames and masks match exactly: the daemon sends a preview JPEG of a frame right before that
// frame's mask (same stream and seq); a mask is drawn over its own preview, never over another's.

// An access token in the page's URL goes into every request the page makes (the daemon may require it).
const token = new URLSearchParams(location.search).get('token');
const query = token ? `?token=${encodeURIComponent(token)}` : '';
const { decodeMessage, parseServerMessage } = await import(`./protocol-client.js${query}`);

const WS_URL = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws${query}`;
const PREVIEW = { maxFps: 10, width: 240 };
const POLL_MS = 2000;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5000;
const UNKNOWN_CLASS = 0xffff00ff; // opaque magenta (RGBA little-endian) for ids outside the card

const $ = (sel) => /** @type {HTMLElement} */ (document.querySelector(sel));
const statusEl = $('#status');
const opacityEl = /** @type {HTMLInputElement} */ ($('#opacity'));
const showMaskEl = /** @type {HTMLInputElement} */ ($('#show-mask'));
const showVideoEl = /** @type {HTMLInputElement} */ ($('#show-video'));
statusEl.dataset.wsUrl = WS_URL;

const view = {
  opacity: Number(opacityEl.value),
  showMask: showMaskEl.checked,
  showVideo: showVideoEl.checked,
};
/** Palette as RGBA words (little-endian: 0xAABBGGRR), index = class id. */
let lut = new Uint32Array(256).fill(UNKNOWN_CLASS);
/** @type {WebSocket | null} */
let ws = null;
let retryMs = RETRY_MIN_MS;
let pollTimer = 0;
/** Asked for `class_areas` on this connection (only once some stream has zones to colour). */
let areasRequested = false;
/** @type {Map<string, Panel>} */
const panels = new Map();

// ---------------------------------------------------------------- controls

opacityEl.addEventListener('input', () => {
  view.opacity = Number(opacityEl.value);
  $('#opacity-value').textContent = view.opacity.toFixed(2);
});
showMaskEl.addEventListener('change', () => (view.showMask = showMaskEl.checked));
showVideoEl.addEventListener('change', () => {
  view.showVideo = showVideoEl.checked;
  sendPreviewRequest();
});

// ---------------------------------------------------------------- connection

function setStatus(state, text) {
  statusEl.dataset.state = state;
  statusEl.textContent = text;
}

function send(msg) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
}

function sendPreviewRequest() {
  send(view.showVideo ? { type: 'preview', enabled: true, ...PREVIEW } : { type: 'preview', enabled: false });
}

function connect() {
  setStatus(retryMs === RETRY_MIN_MS ? 'connecting' : 'reconnecting', 'connecting…');
  const sock = new WebSocket(WS_URL);
  sock.binaryType = 'arraybuffer';
  ws = sock;
  sock.onmessage = (ev) => {
    try {
      if (typeof ev.data === 'string') onText(parseServerMessage(ev.data));
      else onBinary(decodeMessage(new Uint8Array(ev.data)));
    } catch (err) {
      console.warn('segd viewer: bad message', err);
    }
  };
  sock.onclose = () => {
    if (ws !== sock) return;
    ws = null;
    clearInterval(pollTimer);
    const wait = retryMs;
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    setStatus('reconnecting', `disconnected; retrying in ${(wait / 1000).toFixed(1)} s`);
    setTimeout(connect, wait);
  };
}

function onText(msg) {
  switch (msg.type) {
    case 'hello':
      retryMs = RETRY_MIN_MS;
      setStatus('connected', 'live');
      $('#model').textContent = msg.model;
      syncPanels(msg.streams);
      areasRequested = false;
      send({ type: 'model_card' });
      send({ type: 'encoding', encoding: 'deflate' }); // ~7 KB instead of ~170 KB per mask
      sendPreviewRequest();
      send({ type: 'list_streams' });
      clearInterval(pollTimer);
      pollTimer = setInterval(() => send({ type: 'list_streams' }), POLL_MS);
      return;
    case 'model_card':
      // Also sent unsolicited when the daemon swaps its model, before the new model's first mask.
      $('#model').textContent = msg.card.name;
      setPalette(msg.card.classes);
      return;
    case 'streams':
      // `change` present: the stream list changed at run time (a stream added or removed).
      if (msg.change) updatePanels(msg.streams.map((s) => s.id));
      for (const s of msg.streams) panels.get(s.id)?.setInfo(s);
      if (!areasRequested && msg.streams.some((s) => s.zones && s.zones.length > 0)) {
        areasRequested = true;
        send({ type: 'areas', enabled: true }); // zone occupancy, to colour the zones
      }
      return;
    case 'class_areas':
      panels.get(msg.stream)?.onAreas(msg);
      return;
    case 'error':
      console.warn('segd viewer: server error', msg.message);
      return;
    default:
      return; // subscription, preview: acknowledgements
  }
}

function onBinary(msg) {
  const panel = panels.get(msg.kind === 'unknown' ? '' : msg.streamId);
  if (!panel) return;
  if (msg.kind === 'preview') panel.onPreview(msg);
  else if (msg.kind === 'mask') panel.onMask(msg);
}

// ---------------------------------------------------------------- palette, streams

function setPalette(classes) {
  lut = new Uint32Array(256).fill(UNKNOWN_CLASS);
  const legend = $('#legend');
  legend.replaceChildren();
  for (const c of classes) {
    const [r, g, b] = c.color;
    lut[c.id] = (0xff << 24) | (b << 16) | (g << 8) | r;
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = `rgb(${r}, ${g}, ${b})`;
    li.append(sw, document.createTextNode(`${c.id} ${c.name}`));
    legend.append(li);
  }
}

function syncPanels(ids) {
  for (const [id, p] of panels) {
    if (!ids.includes(id)) {
      p.remove();
      panels.delete(id);
    }
  }
  for (const id of ids) {
    const p = panels.get(id) ?? new Panel(id);
    panels.set(id, p);
    p.reset(); // a new connection: seq numbers may have restarted with the daemon
  }
}

/** A stream-list update: panels of removed streams go, new streams get one; the others are untouched. */
function updatePanels(ids) {
  for (const [id, p] of panels) {
    if (!ids.includes(id)) {
      p.remove();
      panels.delete(id);
    }
  }
  for (const id of ids) if (!panels.has(id)) panels.set(id, new Panel(id));
}

/** Inflates a zlib stream (deflate encoding) with the browser's own DecompressionStream. */
async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function maskIds(msg) {
  if (msg.encoding === 'raw') return msg.payload;
  if (msg.encoding === 'deflate') return inflate(msg.payload);
  throw new Error(`viewer: mask encoding ${msg.encoding} not requested`);
}

class Panel {
  constructor(id) {
    this.id = id;
    const tpl = /** @type {HTMLTemplateElement} */ ($('#panel-template'));
    this.root = /** @type {HTMLElement} */ (tpl.content.firstElementChild.cloneNode(true));
    this.root.dataset.stream = id;
    this.root.querySelector('.stream-id').textContent = id;
    this.canvas = this.root.querySelector('canvas');
    this.ctx = this.canvas.getContext('2d');
    this.maskCanvas = document.createElement('canvas');
    this.maskCtx = this.maskCanvas.getContext('2d');
    this.image = null;
    this.el = {
      state: this.root.querySelector('.state'),
      fps: this.root.querySelector('.fps'),
      latency: this.root.querySelector('.latency'),
      published: this.root.querySelector('.published'),
      drops: this.root.querySelector('.drops'),
    };
    this.listItem = document.createElement('li');
    this.listItem.dataset.stream = id;
    $('#panels').append(this.root);
    $('#stream-list').append(this.listItem);
    this.drawTimes = [];
    this.frames = 0;
    /** @type {{ name: string, polygon: number[][] }[]} */
    this.zones = [];
    /** @type {boolean[]} occupied, per zone */
    this.occupied = [];
    this.reset();
    this.setInfo({ id, state: 'connecting' });
  }

  reset() {
    this.drawnSeq = -1;
    /** @type {{ seq: number, bitmap: Promise<ImageBitmap> } | null} */
    this.preview = null;
  }

  remove() {
    this.root.remove();
    this.listItem.remove();
  }

  setInfo(s) {
    this.el.state.textContent = s.state;
    this.el.state.dataset.state = s.state;
    this.listItem.textContent = `${s.id} — ${s.state}`;
    if (s.framesPublished !== undefined) this.el.published.textContent = String(s.framesPublished);
    if (s.zones) {
      this.zones = s.zones;
      this.canvas.dataset.zones = s.zones.map((z) => z.name).join(',');
    }
    if (s.drops) {
      const parts = Object.entries(s.drops).map(([reason, n]) => `${reason} ${n}`);
      this.el.drops.textContent = parts.length ? parts.join(' · ') : 'none';
    }
  }

  onAreas(msg) {
    this.occupied = msg.zones.map((z) => z.occupied);
  }

  /** Zone outlines over the frame: red while occupied, green while clear, with the zone's name. */
  drawZones(ctx, w, h) {
    ctx.lineWidth = 2;
    ctx.font = '12px sans-serif';
    this.zones.forEach((z, j) => {
      const colour = this.occupied[j] ? '#ff3b30' : '#34c759';
      ctx.strokeStyle = colour;
      ctx.beginPath();
      z.polygon.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(x * w, y * h) : ctx.lineTo(x * w, y * h)));
      ctx.closePath();
      ctx.stroke();
      const [x0, y0] = z.polygon[0];
      ctx.fillStyle = colour;
      ctx.fillText(z.name, x0 * w + 4, Math.max(12, y0 * h + 14));
    });
  }

  onPreview(msg) {
    const old = this.preview;
    if (old) old.bitmap.then((b) => b.close(), () => {});
    const blob = new Blob([msg.jpeg], { type: 'image/jpeg' });
    this.preview = { seq: msg.seq, bitmap: createImageBitmap(blob) };
  }

  onMask(msg) {
    const pv = this.preview && this.preview.seq === msg.seq ? this.preview : null;
    if (pv) this.preview = null;
    // With video on, only masks that came with their own frame are drawn (previews are rate-limited).
    if (view.showVideo && !pv) return;
    Promise.all([maskIds(msg), pv ? pv.bitmap : null]).then(
      ([ids, bitmap]) => {
        // Decoding is async: a later frame may have been drawn meanwhile.
        if (msg.seq > this.drawnSeq) this.draw(msg, ids, bitmap);
        bitmap?.close();
      },
      (err) => console.warn(`segd viewer: ${this.id}#${msg.seq}:`, err),
    );
  }

  draw(msg, ids, bitmap) {
    const { width: w, height: h } = msg;
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    if (this.maskCanvas.width !== w || this.maskCanvas.height !== h || !this.image) {
      this.maskCanvas.width = w;
      this.maskCanvas.height = h;
      this.image = this.maskCtx.createImageData(w, h);
      this.words = new Uint32Array(this.image.data.buffer);
    }
    const ctx = this.ctx;
    ctx.globalAlpha = 1;
    if (bitmap && view.showVideo) ctx.drawImage(bitmap, 0, 0, w, h);
    else {
      ctx.fillStyle = '#000';
      ctx.fillRect(0, 0, w, h);
    }
    if (view.showMask) {
      const words = this.words;
      for (let i = 0; i < words.length; i++) words[i] = lut[ids[i]];
      this.maskCtx.putImageData(this.image, 0, 0);
      ctx.globalAlpha = view.opacity;
      ctx.drawImage(this.maskCanvas, 0, 0);
      ctx.globalAlpha = 1;
    }
    if (this.zones.length > 0) this.drawZones(ctx, w, h);
    this.drawnSeq = msg.seq;
    this.frames++;
    this.canvas.dataset.seq = String(msg.seq);
    this.canvas.dataset.frames = String(this.frames);

    const now = Date.now();
    this.el.latency.textContent = `${Math.max(0, now - msg.captureTimeMs).toFixed(0)} ms`;
    this.drawTimes.push(now);
    while (this.drawTimes.length > 0 && now - this.drawTimes[0] > 2000) this.drawTimes.shift();
    const span = now - this.drawTimes[0];
    this.el.fps.textContent = this.drawTimes.length > 1 && span > 0 ? (((this.drawTimes.length - 1) * 1000) / span).toFixed(1) : '–';
  }
}

connect();
