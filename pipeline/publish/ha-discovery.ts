/**
 * Home Assistant MQTT discovery (docs/home-assistant.md): the retained config payloads that make
 * a node's and its cameras' entities appear in HA without YAML. Pure: given the node, the serving
 * model and the streams' zones, it says which config topics hold which payload; HaDiscovery keeps
 * what was published, so a change yields the configs to (re)send and the topics to clear (an
 * empty retained message removes the entity in HA).
 *
 * Every entity reads a topic segd publishes anyway (mqtt-messages.ts): the zone's retained state
 * (occupancy, coverage), the stream's stats (masks/s, class coverage), the snapshot. Availability
 * is the node's status topic (`online`, Last Will `offline`). Unique ids are built from the node,
 * stream, zone and class names only, so they survive restarts and HA keeps names and history.
 */
import type { MqttTopics } from './mqtt-messages.js';
import { STATUS_OFFLINE, STATUS_ONLINE } from './mqtt-messages.js';

export interface HaDiscoveryOptions {
  /** HA's discovery prefix (`homeassistant`). */
  readonly prefix: string;
  readonly topics: MqttTopics;
  readonly node: string;
  readonly swVersion: string;
  /** Classes the user wants a coverage sensor for, on every camera (those the model lacks are left out). */
  readonly classes: readonly string[];
  /** Whether snapshots are published (the camera entity). */
  readonly snapshots: boolean;
}

/** What discovery needs of a stream: its id and zone names. */
export interface HaStream {
  readonly id: string;
  readonly zoneNames: readonly string[];
}

export interface HaModel {
  readonly id: string;
  readonly classNames: readonly string[];
}

/** A change to send: configs (retained) and topics whose config is to be cleared (empty retained). */
export interface HaUpdate {
  readonly publish: ReadonlyArray<readonly [topic: string, payload: string]>;
  readonly clear: readonly string[];
}

const NODE_KEY = '';

/** A class name as one id segment (object ids and unique ids accept [A-Za-z0-9_-]). */
export function idSegment(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '_');
}

export class HaDiscovery {
  private model: HaModel;
  private readonly streams = new Map<string, HaStream>();
  /** What was last computed, per stream ('' = the node): topic → payload. */
  private readonly current = new Map<string, Map<string, string>>();

  constructor(
    private readonly opts: HaDiscoveryOptions,
    model: HaModel,
    streams: readonly HaStream[],
  ) {
    this.model = model;
    for (const s of streams) this.streams.set(s.id, s);
    this.current.set(NODE_KEY, this.nodeConfigs());
    for (const s of streams) this.current.set(s.id, this.streamConfigs(s));
  }

  /** Every config, for a (re)connect: the node's first. */
  all(): Array<readonly [string, string]> {
    return [...this.current.values()].flatMap((m) => [...m.entries()]);
  }

  /** A stream added or its zones changed: its configs now, and those of zones that are gone. */
  setStream(s: HaStream): HaUpdate {
    this.streams.set(s.id, s);
    return this.replace(s.id, this.streamConfigs(s), false);
  }

  /** A stream removed (or its analysis off): every entity of its camera goes. */
  removeStream(id: string): HaUpdate {
    this.streams.delete(id);
    return this.replace(id, new Map(), false);
  }

  /** The model swapped: every device names the new model; class sensors follow its class list. */
  setModel(model: HaModel): HaUpdate {
    this.model = model;
    const publish: Array<readonly [string, string]> = [];
    const clear: string[] = [];
    const keys = [NODE_KEY, ...this.streams.keys()];
    for (const key of keys) {
      const s = this.streams.get(key);
      const u = this.replace(key, key === NODE_KEY || s === undefined ? this.nodeConfigs() : this.streamConfigs(s), true);
      publish.push(...u.publish);
      clear.push(...u.clear);
    }
    return { publish, clear };
  }

  /** Replaces one key's configs; unchanged payloads are not sent again unless `all`. */
  private replace(key: string, next: Map<string, string>, all: boolean): HaUpdate {
    const before = this.current.get(key) ?? new Map<string, string>();
    if (next.size === 0) this.current.delete(key);
    else this.current.set(key, next);
    const publish = [...next.entries()].filter(([t, p]) => all || before.get(t) !== p);
    const clear = [...before.keys()].filter((t) => !next.has(t));
    return { publish, clear };
  }

  private get availability(): object {
    return { topic: this.opts.topics.status, payload_available: STATUS_ONLINE, payload_not_available: STATUS_OFFLINE };
  }

  private get origin(): object {
    return { name: 'segd', sw_version: this.opts.swVersion };
  }

  private nodeDevice(): object {
    return { identifiers: [`segd_${this.opts.node}`], name: `segd ${this.opts.node}`, manufacturer: 'segd', model: this.model.id, sw_version: this.opts.swVersion };
  }

  private cameraDevice(stream: string): object {
    return {
      identifiers: [`segd_${this.opts.node}_${stream}`],
      name: stream,
      manufacturer: 'segd',
      model: this.model.id,
      sw_version: this.opts.swVersion,
      via_device: `segd_${this.opts.node}`,
    };
  }

  private topic(component: string, nodeId: string, objectId: string): string {
    return `${this.opts.prefix}/${component}/${nodeId}/${objectId}/config`;
  }

  /** The node's device: one connectivity sensor on its status topic (it is what goes offline). */
  private nodeConfigs(): Map<string, string> {
    const n = this.opts.node;
    const nodeId = `segd_${n}`;
    return new Map([
      [
        this.topic('binary_sensor', nodeId, 'status'),
        JSON.stringify({
          name: 'Status',
          unique_id: `segd_${n}_status`,
          object_id: `segd_${n}_status`,
          device_class: 'connectivity',
          entity_category: 'diagnostic',
          state_topic: this.opts.topics.status,
          payload_on: STATUS_ONLINE,
          payload_off: STATUS_OFFLINE,
          device: this.nodeDevice(),
          origin: this.origin,
        }),
      ],
    ]);
  }

  private streamConfigs(s: HaStream): Map<string, string> {
    const n = this.opts.node;
    const t = this.opts.topics;
    const nodeId = `segd_${n}_${s.id}`;
    const base = (name: string, id: string): Record<string, unknown> => ({
      name,
      unique_id: `${nodeId}_${id}`,
      object_id: `${s.id}_${id}`,
      availability: [this.availability],
      device: this.cameraDevice(s.id),
      origin: this.origin,
    });
    const out = new Map<string, string>();
    for (const zone of s.zoneNames) {
      const state = t.zoneState(s.id, zone);
      out.set(
        this.topic('binary_sensor', nodeId, `zone_${zone}_occupancy`),
        JSON.stringify({
          ...base(`${zone} occupancy`, `zone_${zone}_occupancy`),
          device_class: 'occupancy',
          state_topic: state,
          value_template: "{{ 'ON' if value_json.occupied else 'OFF' }}",
          json_attributes_topic: state,
          json_attributes_template: '{{ {"classes": value_json.classes, "since_ms": value_json.sinceMs, "event_id": value_json.eventId} | tojson }}',
        }),
      );
      out.set(
        this.topic('sensor', nodeId, `zone_${zone}_coverage`),
        JSON.stringify({
          ...base(`${zone} coverage`, `zone_${zone}_coverage`),
          state_topic: state,
          value_template: '{{ (value_json.ratio * 100) | round(1) }}',
          unit_of_measurement: '%',
          state_class: 'measurement',
          icon: 'mdi:texture-box',
        }),
      );
    }
    out.set(
      this.topic('sensor', nodeId, 'masks_per_second'),
      JSON.stringify({
        ...base('Masks per second', 'masks_per_second'),
        state_topic: t.stats(s.id),
        value_template: '{{ value_json.masksPerSecond | round(2) }}',
        unit_of_measurement: 'masks/s',
        state_class: 'measurement',
        entity_category: 'diagnostic',
        icon: 'mdi:speedometer',
      }),
    );
    const have = new Set(this.model.classNames);
    for (const cls of this.opts.classes) {
      if (!have.has(cls)) continue;
      const id = `class_${idSegment(cls)}_coverage`;
      out.set(
        this.topic('sensor', nodeId, id),
        JSON.stringify({
          ...base(`${cls} coverage`, id),
          state_topic: t.stats(s.id),
          value_template: `{{ (value_json.classes[${JSON.stringify(cls)}] * 100) | round(1) }}`,
          unit_of_measurement: '%',
          state_class: 'measurement',
          icon: 'mdi:shape',
        }),
      );
    }
    if (this.opts.snapshots) {
      out.set(this.topic('camera', nodeId, 'snapshot'), JSON.stringify({ ...base('Snapshot', 'snapshot'), topic: t.snapshot(s.id) }));
    }
    return out;
  }
}
