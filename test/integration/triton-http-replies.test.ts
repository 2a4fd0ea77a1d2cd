// The HTTP transport against servers that break the KServe v2 protocol (a real Triton never sends
// these, so a small HTTP server on a real socket does): each call fails with a named status and a
// message, is reported to onRpc once, and nothing larger than the limit is read.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { TritonHttpClient } from '../../pipeline/engine/triton-http-client.js';
import { TritonRpcError } from '../../pipeline/engine/triton-transport.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

describe('TritonHttpClient against a server that breaks the protocol', () => {
  let handler: Handler = (_req, res) => res.end();
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(req, res));
  });
  let url = '';
  const reports: string[] = [];
  let client: TritonHttpClient;
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new TritonHttpClient({ url, tls: { ca: null, cert: null, key: null }, headers: {}, maxReceiveBytes: 1000, onRpc: (m, _s, code) => reports.push(`${m}:${code}`) });
  });
  after(async () => {
    client.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  async function failure(p: Promise<unknown>): Promise<TritonRpcError> {
    try {
      await p;
    } catch (err) {
      assert.ok(err instanceof TritonRpcError, `expected a TritonRpcError, got ${String(err)}`);
      return err;
    }
    assert.fail('expected a failure');
  }

  const input = { name: 'frames', shape: [1, 2, 2, 3], data: new Uint8Array(12) };

  it('sends the header and the tensor as the binary-tensor extension says, and reads outputs after the JSON', async () => {
    let seen: { length: string | undefined; type: string | undefined; path: string | undefined } | null = null;
    handler = (req, res) => {
      seen = { length: req.headers['inference-header-content-length'] as string | undefined, type: req.headers['content-type'], path: req.url };
      const head = Buffer.from(JSON.stringify({ outputs: [{ name: 'mask', datatype: 'UINT8', shape: [1, 2, 2], parameters: { binary_data_size: 4 } }] }));
      res.writeHead(200, { 'inference-header-content-length': head.length }).end(Buffer.concat([head, Buffer.from([1, 2, 3, 4])]));
    };
    reports.length = 0;
    const out = await client.infer('seg', '3', input, 'mask', 2000);
    assert.deepEqual(seen, { length: String(Buffer.byteLength(JSON.stringify({ inputs: [{ name: 'frames', shape: [1, 2, 2, 3], datatype: 'UINT8', parameters: { binary_data_size: 12 } }], outputs: [{ name: 'mask', parameters: { binary_data: true } }] }))), type: 'application/octet-stream', path: '/v2/models/seg/versions/3/infer' });
    assert.deepEqual(out.map((o) => ({ ...o, raw: [...(o.raw ?? [])] })), [{ name: 'mask', datatype: 'UINT8', shape: [1, 2, 2], raw: [1, 2, 3, 4] }]);
    assert.deepEqual(reports, ['ModelInfer:OK']);
  });

  it('a status maps to its gRPC name with the server\'s message; ModelReady reads 400 as "not ready"', async () => {
    reports.length = 0;
    handler = (_req, res) => res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'draining' }));
    const e = await failure(client.infer('seg', '', input, 'mask', 2000));
    assert.equal(e.code, 'UNAVAILABLE');
    assert.match(e.message, /ModelInfer: UNAVAILABLE: draining/);
    handler = (_req, res) => res.writeHead(400).end(JSON.stringify({ error: 'not ready' }));
    assert.equal(await client.modelReady('seg', '', 2000), false);
    handler = (_req, res) => res.writeHead(500).end('<html>oops</html>');
    assert.match((await failure(client.modelMetadata('seg', '', 2000))).message, /ModelMetadata: INTERNAL: HTTP 500: <html>oops<\/html>/);
    assert.deepEqual(reports, ['ModelInfer:UNAVAILABLE', 'ModelReady:OK', 'ModelMetadata:INTERNAL']);
  });

  it('a malformed reply is INTERNAL, naming what is wrong', async () => {
    handler = (_req, res) => res.writeHead(200).end('{"name": "seg", "inputs": 7}');
    assert.match((await failure(client.modelMetadata('seg', '', 2000))).message, /INTERNAL: malformed reply: model metadata\.inputs: expected an array/);
    handler = (_req, res) => res.writeHead(200).end('not json');
    assert.match((await failure(client.modelParameters('seg', '', 2000))).message, /ModelConfig: INTERNAL: malformed reply: .*JSON/);
    handler = (_req, res) => {
      const head = Buffer.from(JSON.stringify({ outputs: [{ name: 'mask', datatype: 'UINT8', shape: [1, 2, 2], parameters: { binary_data_size: 40 } }] }));
      res.writeHead(200, { 'inference-header-content-length': head.length }).end(Buffer.concat([head, Buffer.alloc(4)]));
    };
    assert.match((await failure(client.infer('seg', '', input, 'mask', 2000))).message, /binary_data_size 40: expected a byte count within the 4 bytes left/);
    handler = (_req, res) => res.writeHead(200, { 'inference-header-content-length': 999 }).end('{}');
    assert.match((await failure(client.infer('seg', '', input, 'mask', 2000))).message, /Inference-Header-Content-Length 999 does not fit a body of 2 bytes/);
  });

  it('a reply over the limit is cut off (RESOURCE_EXHAUSTED), declared or not; a silent server meets the deadline', async () => {
    const big = 1000 + (1 << 20) + 1;
    handler = (_req, res) => res.writeHead(200, { 'content-length': big }).end(Buffer.alloc(big));
    assert.match((await failure(client.modelMetadata('seg', '', 2000))).message, /RESOURCE_EXHAUSTED: reply of \d+ bytes, more than the \d+ accepted/);
    handler = (_req, res) => {
      res.writeHead(200); // chunked: no declared length
      res.write(Buffer.alloc(big));
      res.end();
    };
    assert.match((await failure(client.modelMetadata('seg', '', 2000))).message, /RESOURCE_EXHAUSTED: reply longer than the \d+ accepted bytes/);
    handler = () => undefined; // never answers
    const e = await failure(client.serverLive(200));
    assert.equal(e.code, 'DEADLINE_EXCEEDED');
  });
});
