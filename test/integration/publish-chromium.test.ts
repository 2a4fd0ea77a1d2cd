/**
 * The protocol against a real browser: Chromium's WebSocket reassembles the two-fragment messages,
 * the client decoder (clients/ts, compiled) runs unmodified in the page, DecompressionStream('deflate')
 * inflates the deflate payload and Chromium's own PNG decoder reads the PNG payload — and all three
 * give back the exact mask.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { maskResult, loadCamvidMasks, startPublishServer } from '../helpers/publish-harness.js';
import { REPO_ROOT } from '../helpers/paths.js';

const CHROMIUM = '/usr/bin/chromium';

interface PageSide {
  connect(url: string, encodings: string[]): Promise<void>;
  collect(perSocket: number): Promise<{ encoding: string; streamId: string; seq: number; width: number; pixels: string }[]>;
}
// Browser-only APIs used inside page.evaluate (the project compiles without the DOM lib).
declare function createImageBitmap(b: Blob, o: { colorSpaceConversion: 'none'; premultiplyAlpha: 'none' }): Promise<unknown>;
declare class OffscreenCanvas {
  constructor(w: number, h: number);
  getContext(k: '2d'): { drawImage(i: unknown, x: number, y: number): void; getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}
declare const window: { segdClient: { decodeMaskMessage(d: ArrayBuffer): { encoding: string; streamId: string; seq: number; width: number; height: number; payload: Uint8Array } }; segdTest: PageSide };

describe('protocol in Chromium', () => {
  it('raw, deflate and png masks decode in the browser to the exact mask', { timeout: 120_000 }, async (t) => {
    if (!existsSync(CHROMIUM)) {
      t.skip(`${CHROMIUM} not installed: browser check skipped`);
      return;
    }
    const { masks, width, height } = loadCamvidMasks(2);
    const srv = await startPublishServer();
    t.after(() => srv.close());
    let browser: Browser | null = null;
    t.after(() => browser?.close());
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const page = await browser.newPage();

    // The compiled client decoder as a classic script: same code, `export` keywords removed.
    const clientJs = readFileSync(join(REPO_ROOT, 'dist', 'clients', 'ts', 'protocol-client.js'), 'utf8').replace(/^export /gm, '');
    await page.addScriptTag({ content: `${clientJs}\nwindow.segdClient = { decodeMaskMessage };` });

    await page.evaluate(() => {
      const sockets: { ws: WebSocket; encoding: string; masks: ArrayBuffer[] }[] = [];
      const toBase64 = (a: Uint8Array): string => {
        let s = '';
        for (let i = 0; i < a.length; i += 0x8000) s += String.fromCharCode(...a.subarray(i, i + 0x8000));
        return btoa(s);
      };
      const decodePixels = async (encoding: string, payload: Uint8Array, w: number, h: number): Promise<Uint8Array> => {
        if (encoding === 'raw') return payload;
        if (encoding === 'deflate') {
          const stream = new Blob([payload]).stream().pipeThrough(new DecompressionStream('deflate'));
          return new Uint8Array(await new Response(stream).arrayBuffer());
        }
        const bmp = await createImageBitmap(new Blob([payload], { type: 'image/png' }), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
        const ctx = new OffscreenCanvas(w, h).getContext('2d');
        if (!ctx) throw new Error('no 2d context');
        ctx.drawImage(bmp, 0, 0);
        const rgba = ctx.getImageData(0, 0, w, h).data;
        const out = new Uint8Array(w * h);
        for (let i = 0; i < out.length; i++) {
          const r = rgba[i * 4] ?? -1;
          if (rgba[i * 4 + 1] !== r || rgba[i * 4 + 2] !== r || rgba[i * 4 + 3] !== 255) throw new Error(`png pixel ${i} is not opaque grey`);
          out[i] = r;
        }
        return out;
      };
      window.segdTest = {
        async connect(url, encodings) {
          await Promise.all(
            encodings.map(
              (encoding) =>
                new Promise<void>((resolve, reject) => {
                  const ws = new WebSocket(url);
                  ws.binaryType = 'arraybuffer';
                  const entry = { ws, encoding, masks: [] as ArrayBuffer[] };
                  sockets.push(entry);
                  ws.onerror = () => reject(new Error('websocket error'));
                  ws.onmessage = (ev: MessageEvent) => {
                    if (typeof ev.data !== 'string') {
                      entry.masks.push(ev.data as ArrayBuffer);
                      return;
                    }
                    const msg = JSON.parse(ev.data) as { type: string };
                    if (msg.type === 'hello') ws.send(JSON.stringify({ type: 'encoding', encoding }));
                    if (msg.type === 'subscription') resolve();
                  };
                }),
            ),
          );
        },
        async collect(perSocket) {
          const deadline = Date.now() + 30_000;
          while (sockets.some((s) => s.masks.length < perSocket)) {
            if (Date.now() > deadline) throw new Error('masks did not arrive');
            await new Promise((r) => setTimeout(r, 10));
          }
          const out = [];
          for (const s of sockets) {
            for (const data of s.masks) {
              const m = window.segdClient.decodeMaskMessage(data);
              const pixels = await decodePixels(m.encoding, m.payload, m.width, m.height);
              out.push({ encoding: m.encoding, streamId: m.streamId, seq: m.seq, width: m.width, pixels: toBase64(pixels) });
            }
            s.ws.close();
          }
          return out;
        },
      };
    });

    await page.evaluate(([url]) => window.segdTest.connect(url as string, ['raw', 'deflate', 'png']), [srv.wsUrl]);
    masks.forEach((m, i) => srv.publisher.publish(maskResult('cam1', i, m, width, height)));
    const got = await page.evaluate(() => window.segdTest.collect(2));

    assert.equal(got.length, 6);
    for (const g of got) {
      assert.equal(g.streamId, 'cam1');
      assert.equal(g.width, width);
      const expected = Buffer.from(masks[g.seq] as Uint8Array);
      assert.ok(Buffer.from(g.pixels, 'base64').equals(expected), `${g.encoding} frame ${g.seq} equals the mask`);
    }
    assert.deepEqual(got.map((g) => g.encoding).sort(), ['deflate', 'deflate', 'png', 'png', 'raw', 'raw']);
  });
});
