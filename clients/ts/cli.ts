#!/usr/bin/env node
/**
 * Prints per-frame class-area fractions of a segd daemon's masks:
 *
 *   node dist/clients/ts/cli.js ws://127.0.0.1:8080/ws [--frames N] [--stream ID]... [--encoding raw|deflate] [--token T]
 *
 * One line per mask: `cam1 seq=12 road=0.3120 sky=0.2011 …`. Exit 0 after N frames (or on
 * Ctrl-C), 1 when the daemon cannot be reached or closes first, 2 on bad usage.
 */
import { parseArgs } from 'node:util';
import { SegdClient, classAreaFractions, formatFractions } from './segd-client.js';

const USAGE = 'usage: node dist/clients/ts/cli.js ws://HOST:PORT/ws [--frames N] [--stream ID]... [--encoding raw|deflate] [--token T]';

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      allowPositionals: true,
      options: {
        frames: { type: 'string' },
        stream: { type: 'string', multiple: true },
        encoding: { type: 'string', default: 'deflate' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = args;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const url = positionals[0];
  const frames = values.frames === undefined ? Infinity : Number(values.frames);
  const encoding = values.encoding;
  if (positionals.length !== 1 || url === undefined || !/^wss?:\/\//.test(url)) {
    console.error(`expected one ws:// or wss:// URL, got ${JSON.stringify(positionals)}\n${USAGE}`);
    return 2;
  }
  if (!(frames > 0) || (frames !== Infinity && !Number.isInteger(frames))) {
    console.error(`--frames: expected a positive integer, got ${JSON.stringify(values.frames)}`);
    return 2;
  }
  if (encoding !== 'raw' && encoding !== 'deflate') {
    console.error(`--encoding: expected raw or deflate, got ${JSON.stringify(encoding)}`);
    return 2;
  }

  let client: SegdClient;
  try {
    client = await SegdClient.connect(url, {
      encoding,
      ...(values.stream ? { streams: values.stream } : {}),
      ...(values.token ? { token: values.token } : {}),
    });
  } catch (err) {
    console.error((err as Error).message);
    return 1;
  }
  let seen = 0;
  const done = new Promise<number>((resolve) => {
    client.onMask = (m) => {
      if (seen >= frames) return;
      seen++;
      console.log(formatFractions(m, classAreaFractions(m.ids, client.classes.length), client.classes));
      if (seen >= frames) void client.close().then(() => resolve(0));
    };
    void client.closed.then(({ code }) => {
      if (seen < frames && frames !== Infinity) console.error(`segd: connection closed (${code}) after ${seen} of ${frames} frames`);
      resolve(seen >= frames || frames === Infinity ? 0 : 1);
    });
    process.once('SIGINT', () => void client.close().then(() => resolve(0)));
  });
  return done;
}

process.exitCode = await main();
