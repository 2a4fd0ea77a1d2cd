// The Kafka payloads: docs/kafka/*.schema.json are exactly the schemas in kafka-messages.ts (one
// definition), and what the builders make from a real analysis validates against those files.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { KAFKA_PAYLOAD_SCHEMAS, areasMessage, eventMessage, streamKey, topicName, zoneStatesMessage } from '../../pipeline/publish/kafka-messages.js';
import { schemaFileText } from '../../scripts/kafka-schemas.js';
import { KAFKA_SCHEMA_DIR, TEST_CLASSES, kafkaValidators, testStream } from '../helpers/kafka-payloads.js';

describe('kafka payload schemas', () => {
  it('docs/kafka holds exactly the schemas of the code (regenerate: node dist/scripts/kafka-schemas.js)', () => {
    for (const [file, schema] of Object.entries(KAFKA_PAYLOAD_SCHEMAS)) {
      assert.equal(readFileSync(join(KAFKA_SCHEMA_DIR, file), 'utf8'), schemaFileText(schema), `docs/kafka/${file} differs from kafka-messages.ts`);
    }
  });

  it('areas, zone states and events built from a real analysis validate; broken ones do not', () => {
    const { check, validate } = kafkaValidators();
    const s = testStream('cam1');
    const events = [];
    for (let seq = 0; seq < 12; seq++) {
      const a = s.frame(seq);
      const areas = areasMessage(a, 'box1', 'model-x', TEST_CLASSES, ['lot']);
      check('areas', areas);
      assert.deepEqual(Object.keys(areas.classes), [...TEST_CLASSES]);
      for (const e of a.events) {
        events.push(e.type);
        check('event', eventMessage('box1', e));
      }
      check('zone-states', zoneStatesMessage('box1', 'cam1', s.analyzer.states(), a.result.captureTimeMs));
    }
    assert.deepEqual(events, ['enter', 'exit']);
    assert.equal(validate.areas({ ...areasMessage(s.frame(12), 'box1', 'm', TEST_CLASSES, ['lot']), seq: -1 }), false);
    assert.equal(validate['status-node']({ kind: 'node', node: 'box1', state: 'asleep', timeMs: 1, model: 'm', classes: [], streams: [] }), false);
    assert.equal(validate.event({ type: 'enter' }), false);
  });

  it('names topics <prefix>.<name> and keys a stream by <node>/<stream>', () => {
    assert.equal(topicName('segd', 'zone-states'), 'segd.zone-states');
    assert.equal(streamKey('box1', 'cam1'), 'box1/cam1');
  });
});
