// End to end against a real Home Assistant Core (test/ha/requirements.txt): HA onboarded and its
// MQTT integration set up through its REST API, pointing at a real mosquitto; the built daemon
// publishes discovery to the same broker. Through HA's own APIs: the zone's binary_sensor and
// coverage sensors, masks/s and the listed class sensors appear on the camera's device (under the
// node's); occupancy is what the clip shows (road and cars fill the street, no car in the sky);
// the camera entity serves a JPEG; a segd restart and an HA restart keep the entities, their
// unique ids and the right occupancy; a zone removed through segd's API disappears from HA.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api } from '../helpers/control-api.js';
import { MODEL_PATH, makeTempDir, startReadyDaemon, testConfig, type DaemonProcess } from '../helpers/daemon.js';
import { readCardBeside } from '../helpers/direct-masks.js';
import { HomeAssistant, type RegistryEntity } from '../helpers/home-assistant.js';
import { startBroker, type Broker } from '../helpers/mosquitto.js';
import { SAMPLE_CLIP_VAL } from '../helpers/paths.js';

const STREET = { name: 'street', polygon: [[0, 0.6], [1, 0.6], [1, 1], [0, 1]], classes: ['road', 'car'], threshold: 0.3, hysteresis: 0.1, minDurationMs: 0 };
const TOP = { name: 'top', polygon: [[0, 0], [1, 0], [1, 0.15], [0, 0.15]], classes: ['car'], threshold: 0.5, hysteresis: 0.1, minDurationMs: 0 };
const NODE = 'hatest';
const uid = (id: string): string => `segd_${NODE}_cam_${id}`;
const ZONE_IDS = (zone: string): string[] => [uid(`zone_${zone}_occupancy`), uid(`zone_${zone}_coverage`)];
const CAMERA_IDS = [...ZONE_IDS('street'), ...ZONE_IDS('top'), uid('masks_per_second'), uid('class_car_coverage'), uid('class_road_coverage'), uid('snapshot')];

/** Until `check` holds, or fail after `ms` naming `what` (a bounded wait, not a timing assertion). */
async function until(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('e2e: Home Assistant discovers segd over MQTT (real HA Core, real mosquitto)', { timeout: 900_000 }, () => {
  const card = readCardBeside(MODEL_PATH) as unknown as { name: string };
  let tmp: ReturnType<typeof makeTempDir>;
  let broker: Broker;
  let ha: HomeAssistant;
  let daemon: DaemonProcess;
  const config = (): Record<string, unknown> =>
    testConfig([{ id: 'cam', url: SAMPLE_CLIP_VAL, loop: true, realtime: true, zones: [STREET, TOP] }], {
      mqtt: {
        url: broker.url,
        node: NODE,
        reconnect: { minMs: 100, maxMs: 500 },
        // `nosuch` is not a class of the model: no sensor for it.
        homeAssistant: { classes: ['car', 'road', 'nosuch'], snapshots: { minIntervalMs: 0 } },
      },
    });
  const segdDir = (): string => join(tmp.dir, 'segd');

  const ours = async (): Promise<Map<string, RegistryEntity>> =>
    new Map((await ha.entities()).filter((e) => e.platform === 'mqtt' && e.unique_id.startsWith(`segd_${NODE}`)).map((e) => [e.unique_id, e]));
  const stateOf = async (uniqueId: string): Promise<string | null> => {
    const e = (await ours()).get(uniqueId);
    return e === undefined ? null : ((await ha.state(e.entity_id))?.state ?? null);
  };

  before(async () => {
    tmp = makeTempDir('segd-e2e-ha-');
    mkdirSync(segdDir());
    mkdirSync(join(tmp.dir, 'ha'));
    broker = await startBroker({ dir: tmp.dir });
    ha = await HomeAssistant.start(join(tmp.dir, 'ha'));
    await ha.setUpMqtt(broker.port);
    daemon = await startReadyDaemon(segdDir(), config());
  });
  after(async () => {
    await daemon?.stop();
    await ha?.stop();
    await broker?.kill();
    tmp?.cleanup();
  });

  it('the zone, masks/s, listed class and snapshot entities appear on the camera device, under the node device', async () => {
    // Bounded by the goal (entities within 10 s of segd being ready); not a measurement.
    let entities = new Map<string, RegistryEntity>();
    await until(
      'every entity in HA',
      async () => {
        entities = await ours();
        return [...CAMERA_IDS, `segd_${NODE}_status`].every((id) => entities.has(id));
      },
      10_000,
    );
    assert.deepEqual([...entities.keys()].sort(), [...CAMERA_IDS, `segd_${NODE}_status`].sort(), 'exactly these entities (no sensor for a class the model lacks)');
    const devices = await ha.devices();
    const byIdent = (ident: string) => devices.find((d) => d.identifiers.some(([dom, id]) => dom === 'mqtt' && id === ident));
    const node = byIdent(`segd_${NODE}`);
    const cam = byIdent(`segd_${NODE}_cam`);
    assert.ok(node !== undefined && cam !== undefined, 'the node and camera devices exist');
    assert.deepEqual([cam.name, cam.model, cam.via_device_id], ['cam', card.name, node.id]);
    assert.equal(node.model, card.name);
    for (const id of CAMERA_IDS) assert.equal(entities.get(id)?.device_id, cam.id, `${id} is on the camera's device`);
    assert.equal(entities.get(`segd_${NODE}_status`)?.device_id, node.id);
    assert.equal(entities.get(uid('zone_street_occupancy'))?.entity_id.split('.')[0], 'binary_sensor');
    assert.equal(entities.get(uid('snapshot'))?.entity_id.split('.')[0], 'camera');
  });

  it('occupancy is what the clip shows: the street (road, cars) occupied, no car in the sky; coverage and masks/s are numbers', async () => {
    await until('street on, top off', async () => (await stateOf(uid('zone_street_occupancy'))) === 'on' && (await stateOf(uid('zone_top_occupancy'))) === 'off', 120_000);
    const coverage = Number(await stateOf(uid('zone_street_coverage')));
    assert.ok(coverage >= 30 && coverage <= 100, `street coverage ${coverage} %`);
    await until('masks/s and class coverage have values', async () => Number(await stateOf(uid('masks_per_second'))) > 0 && Number.isFinite(Number(await stateOf(uid('class_road_coverage')))), 60_000);
    assert.equal(await stateOf(`segd_${NODE}_status`), 'on');
  });

  it('the camera entity serves the snapshot as a JPEG', async () => {
    const cam = (await ours()).get(uid('snapshot'));
    assert.ok(cam !== undefined);
    let body = Buffer.alloc(0);
    await until(
      'a JPEG from /api/camera_proxy',
      async () => {
        const r = await ha.rest('GET', `/api/camera_proxy/${cam.entity_id}`, undefined, () => true);
        if (r.status !== 200) return false;
        assert.equal(r.headers.get('content-type'), 'image/jpeg');
        body = Buffer.from(await r.arrayBuffer());
        return true;
      },
      60_000,
    );
    assert.deepEqual([...body.subarray(0, 3)], [0xff, 0xd8, 0xff], 'JPEG SOI marker');
    assert.ok(body.length > 1000);
  });

  it('a segd restart: unavailable while it is down (Last Will / offline), then the same entities, unique ids and occupancy', async () => {
    const before = await ours();
    await daemon.stop();
    await until('status off, street unavailable', async () => (await stateOf(`segd_${NODE}_status`)) === 'off' && (await stateOf(uid('zone_street_occupancy'))) === 'unavailable', 30_000);
    daemon = await startReadyDaemon(segdDir(), config());
    await until('street on again', async () => (await stateOf(uid('zone_street_occupancy'))) === 'on', 120_000);
    const afterRestart = await ours();
    assert.deepEqual([...afterRestart.keys()].sort(), [...before.keys()].sort());
    for (const [id, e] of before) assert.deepEqual([afterRestart.get(id)?.entity_id, afterRestart.get(id)?.id], [e.entity_id, e.id], `${id} kept its entity id and registry entry`);
  });

  it('an HA restart: the retained configs and states give back the same entities and the right occupancy', async () => {
    const before = await ours();
    await ha.restart();
    await until('street on, top off after HA restarted', async () => (await stateOf(uid('zone_street_occupancy'))) === 'on' && (await stateOf(uid('zone_top_occupancy'))) === 'off', 60_000);
    const afterRestart = await ours();
    for (const [id, e] of before) assert.equal(afterRestart.get(id)?.entity_id, e.entity_id, `${id} kept its entity id`);
  });

  it('a zone removed through segd\'s API disappears from HA; the other zone stays', async () => {
    const top = (await ours()).get(uid('zone_top_occupancy'));
    assert.ok(top !== undefined);
    assert.equal((await api(daemon.httpUrl, 'PATCH', '/api/streams/cam', { zones: [STREET] })).status, 200);
    await until('the top zone entities gone', async () => {
      const e = await ours();
      return ZONE_IDS('top').every((id) => !e.has(id));
    }, 30_000);
    assert.equal(await ha.state(top.entity_id), null, 'no state left for the removed zone');
    const e = await ours();
    for (const id of ZONE_IDS('street')) assert.ok(e.has(id), `${id} stays`);
    assert.equal(await stateOf(uid('zone_street_occupancy')), 'on');
  });
});
