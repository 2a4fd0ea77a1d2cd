/**
 * The live viewer page in real headless Chromium against the real daemon (sample clip, real model):
 * it lists the stream, draws frames with their masks, and at opacity 1 the canvas pixels are the
 * model card's palette colours of the mask — compared with the mask of the same seq received by an
 * independent Node client. It carries ?token= into its WebSocket and file URLs and makes no other
 * request. After a daemon restart on the same port it reconnects and draws again by itself.
 * A screenshot is kept in test-artifacts/viewer-page.png.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { MaskMessage } from '../../clients/ts/protocol-client.js';
import { makeTempDir, startDaemonProcess, testConfig, writeConfig, type DaemonProcess } from '../helpers/daemon.js';
import { E2eClient } from '../helpers/e2e-client.js';
import { REPO_ROOT, SAMPLE_CLIP_VAL } from '../helpers/paths.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
const CARD = JSON.parse(readFileSync(join(REPO_ROOT, 'models', 'sctnet-s-camvid.json'), 'utf8')) as {
  classes: { id: number; color: [number, number, number] }[];
};

// Browser-only APIs used inside page.evaluate (the project compiles without the DOM lib).
declare const document: {
  querySelector(s: string): {
    dataset: Record<string, string | undefined>;
    width: number;
    height: number;
    getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
  } | null;
};

/** Frames drawn so far on the stream's canvas (0 before the first). */
async function framesDrawn(page: Page, stream: string): Promise<number> {
  return page.evaluate((s) => Number(document.querySelector(`.panel[data-stream="${s}"] canvas`)?.dataset['frames'] ?? 0), stream);
}

async function waitForFrames(page: Page, stream: string, atLeast: number, timeout = 60_000): Promise<void> {
  await page.waitForFunction(
    ([s, n]) => Number(document.querySelector(`.panel[data-stream="${s as string}"] canvas`)?.dataset['frames'] ?? 0) >= (n as number),
    [stream, atLeast] as const,
    { timeout, polling: 100 },
  );
}

describe('viewer page in Chromium', () => {
  it('shows the stream, overlays the palette exactly, passes the token on, and recovers after a restart', { timeout: 240_000 }, async (t) => {
    if (!existsSync(CHROMIUM)) {
      t.skip(`${CHROMIUM} not installed: browser check skipped`);
      return;
    }
    const tmp = makeTempDir();
    t.after(tmp.cleanup);
    const config = writeConfig(tmp.dir, testConfig([{ id: 'cam1', url: SAMPLE_CLIP_VAL, maxFps: 5 }]));
    let daemon: DaemonProcess = await startDaemonProcess({ args: ['run', '--config', config] });
    t.after(() => daemon.stop());
    await daemon.waitForReady();
    const port = daemon.port;

    // An independent client keeps the last masks by seq, to check the page's pixels against.
    const masks = new Map<number, MaskMessage>();
    const client = await E2eClient.connect(daemon.wsUrl);
    t.after(() => client.terminate());
    client.keep = (m) => {
      masks.set(m.seq, m);
      if (masks.size > 100) masks.delete(masks.keys().next().value as number);
      return false;
    };

    let browser: Browser | null = null;
    t.after(() => browser?.close());
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const page = await browser.newPage({ viewport: { width: 1000, height: 640 } });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));

    await page.goto(`${daemon.httpUrl}/?token=s3cret`);
    await page.waitForSelector('#status[data-state="connected"]', { timeout: 30_000 });
    await page.waitForSelector('.panel[data-stream="cam1"]');
    await page.waitForFunction(() => (document.querySelector('#legend') as unknown as { children: { length: number } } | null)?.children.length === 11);
    await waitForFrames(page, 'cam1', 3);
    assert.match(await page.textContent('#stream-list') ?? '', /cam1 — streaming/);
    assert.match(await page.textContent('.panel[data-stream="cam1"] .latency') ?? '', /^\d+ ms$/);

    // The token went into the WebSocket URL and every file URL; nothing was requested elsewhere.
    const wsUrl = await page.getAttribute('#status', 'data-ws-url');
    assert.equal(wsUrl, `ws://127.0.0.1:${port}/ws?token=s3cret`);
    for (const u of requests) {
      assert.ok(u.startsWith(`http://127.0.0.1:${port}/`), `request to ${u} stays on the daemon`);
      assert.match(u, /[?&]token=s3cret(&|$)/, `request ${u} carries the token`);
    }
    assert.ok(requests.some((u) => u.includes('/protocol-client.js?')), 'the page loads the shared protocol decoder');

    // Opacity 1: the overlay alone is visible; sampled pixels must be the palette colour of the mask.
    await page.fill('#opacity', '1');
    const after = await framesDrawn(page, 'cam1');
    await waitForFrames(page, 'cam1', after + 2);
    let snap: { seq: number; width: number; height: number; rgba: string } | null = null;
    for (let attempt = 0; attempt < 20 && snap === null; attempt++) {
      const s = await page.evaluate(() => {
        const c = document.querySelector('.panel[data-stream="cam1"] canvas');
        const ctx = c?.getContext('2d');
        if (!c || !ctx) throw new Error('no canvas');
        const data = ctx.getImageData(0, 0, c.width, c.height).data;
        let bin = '';
        for (let i = 0; i < data.length; i += 0x8000) bin += String.fromCharCode(...data.subarray(i, i + 0x8000));
        return { seq: Number(c.dataset['seq']), width: c.width, height: c.height, rgba: btoa(bin) };
      });
      if (masks.has(s.seq)) snap = s;
      else await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(snap, 'the independent client received the mask the page drew');
    const mask = masks.get(snap.seq) as MaskMessage;
    assert.equal(mask.encoding, 'raw');
    assert.deepEqual([snap.width, snap.height], [mask.width, mask.height]);
    const rgba = Buffer.from(snap.rgba, 'base64');
    const seen = new Set<number>();
    let checked = 0;
    for (let y = 3; y < mask.height; y += 17) {
      for (let x = 5; x < mask.width; x += 23) {
        const p = y * mask.width + x;
        const id = mask.payload[p] as number;
        const color = CARD.classes[id]?.color;
        assert.ok(color, `class id ${id} at (${x},${y}) is in the card`);
        assert.deepEqual([...rgba.subarray(p * 4, p * 4 + 4)], [...color, 255], `pixel (${x},${y}) of seq ${snap.seq} has class ${id}'s colour`);
        seen.add(id);
        checked++;
      }
    }
    assert.ok(checked > 300, `${checked} points sampled`);
    assert.ok(seen.size >= 3, `the sampled points cover ${seen.size} classes (a real scene, not one colour)`);

    // The look a person gets, at a blend: kept as an artefact.
    await page.fill('#opacity', '0.5');
    await waitForFrames(page, 'cam1', (await framesDrawn(page, 'cam1')) + 2);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'viewer-page.png') });

    // Restart on the same port: the page notices, retries, and draws new frames by itself.
    await client.terminate();
    await daemon.stop();
    await page.waitForSelector('#status[data-state="reconnecting"]', { timeout: 30_000 });
    const before = await framesDrawn(page, 'cam1');
    daemon = await startDaemonProcess({ args: ['run', '--config', config, '--port', String(port)] });
    await daemon.waitForReady();
    await page.waitForSelector('#status[data-state="connected"]', { timeout: 60_000 });
    await waitForFrames(page, 'cam1', before + 3);
    assert.deepEqual(pageErrors, []);
  });
});
