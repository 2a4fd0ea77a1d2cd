// End to end: the built daemon publishing to a real mosquitto. One daemon on a clip with a known
// class layout (the val clip, then the same frames upside down: sky on top, then not), a WebSocket
// client that histograms every mask itself, and MQTT subscribers. Stats, the WebSocket's
// class_areas and the zone gauge equal the masks' own histograms; zone events agree with the masks
// they came from; the MQTT mask is the WebSocket mask; a late subscriber gets the retained status
// and zone state; a broker killed and restarted does not pause the WebSocket and publishing
// resumes; a zone removed (API PATCH) or a stream removed (API DELETE) sends `exit` and leaves no
// retained state or zone snapshot behind (the camera's latest snapshot goes with the stream); SIGKILL of the daemon makes the broker deliver `offline`. Bad zone config is a
// check-config error naming the stream, the zone and the field.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { ClassAreasMessage } from '../../clients/ts/protocol-client.js';
import { decodeMaskHeader } from '../helpers/mask-header.js';
import { api } from '../helpers/control-api.js';
import { MODEL_PATH, makeTempDir, runCli, startReadyDaemon, testConfig, writeConfig, type DaemonProcess } from '../helpers/daemon.js';
import { readCardBeside } from '../helpers/direct-masks.js';
import { E2eClient, metricValue, pollUntil, scrape } from '../helpers/e2e-client.js';
import { startBroker, type Broker } from '../helpers/mosquitto.js';
import { Subscriber } from '../helpers/mqtt-subscriber.js';
import { FFMPEG_PATH, SAMPLE_CLIP_VAL } from '../helpers/paths.js';

const ZONE = { name: 'top', polygon: [[0, 0], [1, 0], [1, 0.15], [0, 0.15]], classes: ['sky'], threshold: 0.5, hysteresis: 0.1, minDurationMs: 0 };

interface Seen {
  readonly counts: number[];
  /** Sky pixels / pixels of the zone (pixel centres with y < 0.15). */
  readonly zoneRatio: number;
  readonly sha: string;
}

describe('e2e: MQTT publishing from the daemon (real mosquitto)', { timeout: 600_000 }, () => {
  const card = readCardBeside(MODEL_PATH);
  const names = (card as unknown as { classes: { name: string }[] }).classes.map((c) => c.name);
  const sky = names.indexOf('sky');
  let tmp: ReturnType<typeof makeTempDir>;
  let broker: Broker;
  let daemon: DaemonProcess;
  let ws: E2eClient;
  let sub: Subscriber;
  const seen = new Map<number, Seen>();
  const extra: Broker[] = [];

  before(async () => {
    tmp = makeTempDir('segd-e2e-mqtt-');
    const clip = join(tmp.dir, 'flip.mp4');
    execFileSync(FFMPEG_PATH, ['-v', 'error', '-i', SAMPLE_CLIP_VAL, '-filter_complex', '[0:v]split[a][b];[b]vflip[f];[a][f]concat=n=2:v=1[v]', '-map', '[v]', '-c:v', 'mpeg4', '-q:v', '3', '-r', '10', clip]);
    broker = await startBroker({ dir: tmp.dir });
    sub = await Subscriber.connect(broker.url, ['segd/#']);
    const cfg = testConfig([{ id: 'cam', url: clip, loop: true, realtime: true, zones: [ZONE] }], {
      mqtt: { url: broker.url, node: 'e2e', statsIntervalMs: 0, masks: { enabled: true, intervalMs: 0 }, reconnect: { minMs: 100, maxMs: 500 } },
    });
    daemon = await startReadyDaemon(tmp.dir, cfg);
    ws = await E2eClient.connect(daemon.wsUrl);
    const { width, height } = card.input;
    const zoneRows = Math.ceil(0.15 * height - 0.5); // rows whose centre lies above y = 0.15
    ws.keep = (m) => {
      const mask = Buffer.from(m.payload);
      const counts = new Array<number>(names.length).fill(0);
      let zoneSky = 0;
      for (let i = 0; i < mask.length; i++) {
        counts[mask[i] as number]!++;
        if (i < zoneRows * width && mask[i] === sky) zoneSky++;
      }
      seen.set(m.seq, { counts, zoneRatio: zoneSky / (zoneRows * width), sha: createHash('sha1').update(mask).digest('hex') });
      assert.equal(mask.length, width * height);
      return false;
    };
    await ws.request({ type: 'areas', enabled: true });
  });
  after(async () => {
    await ws?.terminate();
    await daemon?.stop();
    await sub?.close();
    await broker?.kill();
    for (const b of extra) await b.kill();
    tmp?.cleanup();
  });

  it('stats and class_areas equal the masks histograms; the MQTT mask is the WebSocket mask; the zone gauge is exported', async () => {
    const statsOf = () => sub.on('segd/cam/stats').map((m) => m.json<{ seq: number; classes: Record<string, number>; width: number; height: number; model: string; stream: string }>());
    await sub.waitFor(() => statsOf().filter((s) => seen.has(s.seq)).length >= 3 && sub.on('segd/cam/mask').length >= 3, '3 stats of masks the client saw');
    for (const s of statsOf().filter((x) => seen.has(x.seq))) {
      const own = seen.get(s.seq) as Seen;
      const pixels = own.counts.reduce((a, b) => a + b, 0);
      assert.deepEqual(s.classes, Object.fromEntries(names.map((n, i) => [n, (own.counts[i] as number) / pixels])), `stats of seq ${s.seq}`);
      assert.deepEqual([s.stream, s.model, s.width, s.height], ['cam', card.name, card.input.width, card.input.height]);
    }
    const areas = ws.texts.filter((t): t is ClassAreasMessage => t.type === 'class_areas' && seen.has(t.seq));
    assert.ok(areas.length >= 3, 'class_areas messages arrived');
    for (const a of areas) assert.deepEqual(a.counts, seen.get(a.seq)?.counts, `class_areas of seq ${a.seq}`);
    for (const m of sub.on('segd/cam/mask')) {
      const h = decodeMaskHeader(m.payload);
      const own = seen.get(h.seq);
      if (own === undefined) continue;
      assert.equal(createHash('sha1').update(inflateSync(m.payload.subarray(h.headerLength))).digest('hex'), own.sha, `mask of seq ${h.seq}`);
    }
    const text = await scrape(daemon.httpUrl);
    assert.notEqual(metricValue(text, 'segd_zone_occupancy_ratio', { stream: 'cam', zone: 'top', class: 'sky' }), undefined);
    assert.equal(metricValue(text, 'segd_mqtt_connected'), 1);
  });

  it('zone enter and exit on the flipped clip agree with the masks; a late subscriber gets the retained status and zone state', async () => {
    type Ev = { type: string; id: string; after: { seq: number; ratio: number } };
    const events = (): Ev[] => sub.on('segd/cam/events').map((m) => m.json<Ev>());
    await sub.waitFor(() => events().some((e) => e.type === 'enter') && events().some((e) => e.type === 'exit'), 'an enter and an exit', 300_000);
    const checked = new Set<string>();
    for (const e of events()) {
      const own = seen.get(e.after.seq);
      if (own === undefined) continue;
      checked.add(e.type);
      assert.equal(e.after.ratio, own.zoneRatio, `${e.type} at seq ${e.after.seq}: the ratio of its own mask`);
      if (e.type === 'enter') assert.ok(own.zoneRatio >= ZONE.threshold);
      if (e.type === 'exit') assert.ok(own.zoneRatio < ZONE.threshold - ZONE.hysteresis);
    }
    assert.ok(checked.has('enter') && checked.has('exit'), 'an enter and an exit were checked against their masks');
    const late = await Subscriber.connect(broker.url, ['segd/nodes/+/status', 'segd/cam/zones/+/state']);
    try {
      await late.waitFor(() => late.on('segd/nodes/e2e/status').length > 0 && late.on('segd/cam/zones/top/state').length > 0, 'retained messages');
      assert.equal(late.on('segd/nodes/e2e/status')[0]?.text(), 'online');
      assert.ok(late.messages.every((m) => m.retain));
      assert.match(late.on('segd/cam/zones/top/state')[0]?.json<{ state: string }>().state ?? '', /^(clear|occupied)$/);
    } finally {
      await late.close();
    }
  });

  it('a zone removed by API PATCH, then a zone\'s stream removed by API DELETE: exit for the occupied zone, its retained state cleared', async () => {
    // Every class counts, over the whole frame: ratio 1, occupied from the first frame on.
    const whole = { name: 'whole', polygon: [[0, 0], [1, 0], [1, 1], [0, 1]], classes: names, threshold: 0.5, hysteresis: 0.1, minDurationMs: 0 };
    type Ev = { type: string; id: string; zone: string };
    const events = (): Ev[] => sub.on('segd/all/events').map((m) => m.json<Ev>());
    const stateTopic = 'segd/all/zones/whole/state';
    const snapTopic = 'segd/all/zones/whole/snapshot';
    for (const [step, remove] of [
      ['PATCH', () => api(daemon.httpUrl, 'PATCH', '/api/streams/all', { zones: [] })],
      ['DELETE', () => api(daemon.httpUrl, 'DELETE', '/api/streams/all')],
    ] as const) {
      const added = await api(daemon.httpUrl, 'POST', '/api/streams', { id: 'all', url: SAMPLE_CLIP_VAL, loop: true, realtime: true, zones: [whole] });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      // Only messages after this add count: the PATCH round left an occupied state and a snapshot in `sub`.
      const entered = events().length;
      const statesBefore = sub.on(stateTopic).length;
      const snapsBefore = sub.on(snapTopic).length;
      await sub.waitFor(() => events().length > entered && sub.on(stateTopic).slice(statesBefore).some((m) => m.payload.length > 0 && m.json<{ state: string }>().state === 'occupied'), `${step}: whole entered`);
      const enter = events().at(-1) as Ev;
      assert.deepEqual([enter.type, enter.zone], ['enter', 'whole']);
      // The enter's snapshot (JPEG), retained for the camera and the zone, beside the zone's state.
      await sub.waitFor(() => sub.on(snapTopic).slice(snapsBefore).some((m) => m.payload.length > 0), `${step}: the enter's snapshot`);
      const held = await Subscriber.retained(broker.url, 'segd/all/#');
      assert.deepEqual(held.map((m) => m.topic).sort(), ['segd/all/snapshot', snapTopic, stateTopic]);
      assert.equal(held.find((m) => m.topic === stateTopic)?.json<{ state: string }>().state, 'occupied');
      assert.ok(held.filter((m) => m.topic.endsWith('snapshot')).every((m) => m.payload[0] === 0xff && m.payload[1] === 0xd8), 'JPEG snapshots');
      const empties = (topic: string): number => sub.on(topic).filter((m) => m.payload.length === 0).length;
      const cleared = empties(stateTopic);
      const lastTopic = step === 'PATCH' ? snapTopic : 'segd/all/snapshot'; // the last clear the change sends
      const lastCleared = empties(lastTopic);
      const r = await remove();
      assert.ok(r.status >= 200 && r.status < 300, `${step}: ${r.status} ${JSON.stringify(r.body)}`);
      await sub.waitFor(() => events().some((e) => e.type === 'exit' && e.id === enter.id) && empties(stateTopic) > cleared && empties(lastTopic) > lastCleared, `${step}: exit, the state and snapshots cleared`);
      // PATCH: the stream stays, with its latest snapshot; DELETE: nothing of it.
      const left = (await Subscriber.retained(broker.url, 'segd/all/#')).map((m) => m.topic);
      assert.deepEqual(left, step === 'PATCH' ? ['segd/all/snapshot'] : [], `${step}: nothing of the zone retained`);
      if (step === 'PATCH') assert.equal((await api(daemon.httpUrl, 'DELETE', '/api/streams/all')).status, 200);
    }
  });

  it('broker killed and restarted: the WebSocket never pauses, publishing resumes', async () => {
    await broker.kill();
    const before = ws.count('cam');
    await ws.waitUntil(() => ws.count('cam') >= before + 10, '10 more masks while the broker is down', 120_000);
    await pollUntil(async () => metricValue(await scrape(daemon.httpUrl), 'segd_mqtt_connected') === 0, 'segd_mqtt_connected 0');
    const lastSeq = ws.lastSeq.get('cam') ?? 0;
    broker = await broker.restart();
    await sub.waitFor(() => sub.on('segd/cam/stats').some((m) => m.json<{ seq: number }>().seq > lastSeq), 'stats after the restart', 120_000);
    assert.ok(ws.count('cam') > before + 10);
    const text = await scrape(daemon.httpUrl);
    assert.equal(metricValue(text, 'segd_mqtt_connected'), 1);
    assert.ok((metricValue(text, 'segd_mqtt_dropped_total', { reason: 'disconnected' }) ?? 0) > 0);
  });

  it('SIGKILL of the daemon: the broker delivers the retained offline Last Will', async () => {
    await daemon.stop('SIGKILL');
    await sub.waitFor(() => sub.on('segd/nodes/e2e/status').at(-1)?.text() === 'offline', 'offline');
    const late = await Subscriber.connect(broker.url, 'segd/nodes/e2e/status');
    try {
      await late.waitFor(() => late.messages.length > 0, 'retained status');
      assert.equal(late.messages[0]?.text(), 'offline');
    } finally {
      await late.close();
    }
  });

  it('check-config names the stream, the zone and the field of a bad zone', async () => {
    const cfg = testConfig([{ id: 'cam', url: SAMPLE_CLIP_VAL, zones: [{ ...ZONE, classes: ['sky', 'spaceship'] }, { ...ZONE, name: 'low', threshold: 1.5 }] }], { mqtt: { url: 'mqtt://127.0.0.1:1' } });
    const schemaBad = await runCli(['check-config', writeConfig(tmp.dir, cfg, 'bad-zone.yaml')]);
    assert.equal(schemaBad.code, 2);
    assert.match(schemaBad.stderr, /streams\[0\]\.zones\[1\]\.threshold \(stream "cam", zone "low"\): expected a number <= 1, got 1.5/);
    const fixed = testConfig([{ id: 'cam', url: SAMPLE_CLIP_VAL, zones: [{ ...ZONE, classes: ['sky', 'spaceship'] }] }]);
    const classBad = await runCli(['check-config', writeConfig(tmp.dir, fixed, 'bad-class.yaml')]);
    assert.equal(classBad.code, 2);
    assert.match(classBad.stderr, /streams\[0\]\.zones\[0\]\.classes\[1\] \(stream "cam", zone "top"\): expected one of the model's classes \(.*\), got "spaceship"/);
  });
});
