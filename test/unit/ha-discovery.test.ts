// Home Assistant discovery configs (pipeline/publish/ha-discovery.ts): which entities a node and
// its cameras get, their ids (built from names only, so the same after a restart), the topics
// they read, and what a zone removed, a stream removed or a model swap sends and clears.
// test/e2e/home-assistant.test.ts checks the same configs against a real HA.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HaDiscovery, type HaDiscoveryOptions } from '../../pipeline/publish/ha-discovery.js';
import { MqttTopics } from '../../pipeline/publish/mqtt-messages.js';

const OPTS: HaDiscoveryOptions = { prefix: 'homeassistant', topics: new MqttTopics('segd', 'n1'), node: 'n1', swVersion: '1.2.3', classes: ['car', 'traffic light'], snapshots: true };
const MODEL = { id: 'm1', classNames: ['road', 'car', 'sky'] };
const CAM = { id: 'cam', zoneNames: ['drive'] };

type Cfg = Record<string, unknown> & { unique_id: string; device: Record<string, unknown> };
const parse = (entries: Iterable<readonly [string, string]>): Map<string, Cfg> => new Map([...entries].map(([t, p]) => [t, JSON.parse(p) as Cfg]));

describe('Home Assistant discovery configs', () => {
  it('the node gets a connectivity sensor; a camera its zone, masks/s, listed-class and snapshot entities', () => {
    const all = parse(new HaDiscovery(OPTS, MODEL, [CAM]).all());
    const base = 'homeassistant';
    assert.deepEqual(
      [...all.keys()],
      [
        `${base}/binary_sensor/segd_n1/status/config`,
        `${base}/binary_sensor/segd_n1_cam/zone_drive_occupancy/config`,
        `${base}/sensor/segd_n1_cam/zone_drive_coverage/config`,
        `${base}/sensor/segd_n1_cam/masks_per_second/config`,
        `${base}/sensor/segd_n1_cam/class_car_coverage/config`,
        `${base}/camera/segd_n1_cam/snapshot/config`,
      ],
      'no sensor for "traffic light" (the model lacks it), none for the unlisted classes',
    );
    const status = all.get(`${base}/binary_sensor/segd_n1/status/config`) as Cfg;
    assert.equal(status['state_topic'], 'segd/nodes/n1/status');
    assert.deepEqual([status['payload_on'], status['payload_off']], ['online', 'offline']);
    assert.deepEqual(status.device, { identifiers: ['segd_n1'], name: 'segd n1', manufacturer: 'segd', model: 'm1', sw_version: '1.2.3' });
    const occ = all.get(`${base}/binary_sensor/segd_n1_cam/zone_drive_occupancy/config`) as Cfg;
    assert.equal(occ.unique_id, 'segd_n1_cam_zone_drive_occupancy');
    assert.equal(occ['state_topic'], 'segd/cam/zones/drive/state');
    assert.deepEqual(occ['availability'], [{ topic: 'segd/nodes/n1/status', payload_available: 'online', payload_not_available: 'offline' }]);
    assert.deepEqual(occ.device['identifiers'], ['segd_n1_cam']);
    assert.equal(occ.device['via_device'], 'segd_n1');
    assert.equal((all.get(`${base}/sensor/segd_n1_cam/class_car_coverage/config`) as Cfg)['value_template'], '{{ (value_json.classes["car"] * 100) | round(1) }}');
    assert.equal((all.get(`${base}/camera/segd_n1_cam/snapshot/config`) as Cfg)['topic'], 'segd/cam/snapshot');
  });

  it('unique ids are the same for the same names (a restart), different per node, stream and zone', () => {
    const ids = (d: HaDiscovery): string[] => [...parse(d.all()).values()].map((c) => c.unique_id);
    const a = ids(new HaDiscovery(OPTS, MODEL, [CAM]));
    assert.deepEqual(ids(new HaDiscovery(OPTS, MODEL, [CAM])), a);
    assert.equal(new Set(a).size, a.length);
    const other = ids(new HaDiscovery({ ...OPTS, node: 'n2', topics: new MqttTopics('segd', 'n2') }, MODEL, [CAM]));
    assert.equal(other.filter((id) => a.includes(id)).length, 0);
  });

  it('a zone removed clears its two configs and sends nothing unchanged; a stream removed clears all of its camera', () => {
    const d = new HaDiscovery(OPTS, MODEL, [{ id: 'cam', zoneNames: ['drive', 'gate'] }]);
    const u = d.setStream(CAM);
    assert.deepEqual(u.publish, []);
    assert.deepEqual(u.clear, ['homeassistant/binary_sensor/segd_n1_cam/zone_gate_occupancy/config', 'homeassistant/sensor/segd_n1_cam/zone_gate_coverage/config']);
    const added = d.setStream({ id: 'cam', zoneNames: ['drive', 'yard'] });
    assert.deepEqual(added.publish.map(([t]) => t), ['homeassistant/binary_sensor/segd_n1_cam/zone_yard_occupancy/config', 'homeassistant/sensor/segd_n1_cam/zone_yard_coverage/config']);
    const gone = d.removeStream('cam');
    assert.equal(gone.clear.length, 7, 'two zones x 2, masks/s, car coverage, snapshot');
    assert.ok(gone.clear.every((t) => t.includes('/segd_n1_cam/')));
    assert.deepEqual([...parse(d.all()).keys()], ['homeassistant/binary_sensor/segd_n1/status/config'], 'only the node is left');
  });

  it('a model swap re-sends every config with the new model and clears the class sensors it lacks', () => {
    const d = new HaDiscovery(OPTS, MODEL, [CAM]);
    const u = d.setModel({ id: 'm2', classNames: ['road', 'sky', 'traffic light'] });
    assert.deepEqual(u.clear, ['homeassistant/sensor/segd_n1_cam/class_car_coverage/config']);
    const sent = parse(u.publish);
    assert.ok(sent.has('homeassistant/sensor/segd_n1_cam/class_traffic_light_coverage/config'), 'a listed class the new model has gets its sensor');
    assert.ok([...sent.values()].every((c) => c.device['model'] === 'm2'));
    assert.equal(sent.size, parse(d.all()).size, 'every config re-sent (the devices name the model)');
  });
});
