/**
 * Writes docs/kafka/*.schema.json from the payload schemas of pipeline/publish/kafka-messages.ts,
 * the one definition of the Kafka payloads (test/unit/kafka-messages.test.ts fails when the files
 * and the code differ). Run after changing a payload: `npm run build && node dist/scripts/kafka-schemas.js`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KAFKA_PAYLOAD_SCHEMAS } from '../pipeline/publish/kafka-messages.js';

/** The file text of one schema: what consumers download. */
export function schemaFileText(schema: object): string {
  return `${JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', ...schema }, null, 2)}\n`;
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const dir = join(process.cwd(), 'docs', 'kafka');
  mkdirSync(dir, { recursive: true });
  for (const [file, schema] of Object.entries(KAFKA_PAYLOAD_SCHEMAS)) {
    writeFileSync(join(dir, file), schemaFileText(schema));
    console.log(`wrote docs/kafka/${file}`);
  }
}
