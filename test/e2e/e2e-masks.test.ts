// End to end: the built daemon on the shared clip; a real `ws` client receives masks, and a
// received mask is byte-equal to what the model gives for that frame through onnxruntime directly
// (the frame decoded here with ffmpeg to the same rgb24, identified by seq = n-th decoded frame).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { MODEL_PATH, makeTempDir, testConfig, type DaemonProcess, startReadyDaemon } from '../helpers/daemon.js';
import { decodeClipFrames, expectMasksEqualDirectRun, readCardBeside } from '../helpers/direct-masks.js';
import { E2eClient } from '../helpers/e2e-client.js';

describe('e2e: masks from the daemon equal the model run directly', { timeout: 120000 }, () => {
  const card = readCardBeside(MODEL_PATH);
  const { width, height } = card.input;
  let tmp: ReturnType<typeof makeTempDir>;
  let daemon: DaemonProcess | null = null;
  let client: E2eClient | null = null;

  before(async () => {
    tmp = makeTempDir('segd-e2e-masks-');
    // One stream: every batch holds one frame, exactly what the direct run below does.
    const cfg = testConfig([{ id: 'val', url: SAMPLE_CLIP_VAL, loop: false, realtime: true }]);
    daemon = await startReadyDaemon(tmp.dir, cfg);
  });
  after(async () => {
    await client?.terminate();
    await daemon?.stop();
    tmp.cleanup();
  });

  it('a ws client receives masks whose bytes equal InferenceSession.run on the same decoded frame', async () => {
    const d = daemon as DaemonProcess;
    client = await E2eClient.connect(d.wsUrl);
    assert.equal(client.hello.model, card.name);
    assert.deepEqual(client.hello.streams, ['val']);
    client.keep = (m) => m.streamId === 'val';
    await client.waitUntil(() => (client as E2eClient).kept.length >= 3, '3 masks of stream val', 60000);
    const masks = client.kept.slice(0, 3);

    await expectMasksEqualDirectRun(MODEL_PATH, card, masks, decodeClipFrames(SAMPLE_CLIP_VAL, width, height));
    // Not vacuous: distinct frames give distinct masks, so a stale or shifted frame would not match.
    const [a, b] = masks;
    assert.ok(a && b && !Buffer.from(a.payload).equals(Buffer.from(b.payload)), 'two different frames gave different masks');
  });
});
