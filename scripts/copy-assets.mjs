// Copies the files that ship but are not compiled (the viewer page: HTML, JS, CSS; the triton
// engine's .proto) into dist/,
// next to the compiled daemon that serves them: the built package never reads the source tree.
import { cpSync } from 'node:fs';

const ASSETS = [
  ['daemon/viewer', 'dist/daemon/viewer'],
  // The KServe v2 gRPC messages the triton engine loads at run time (proto-loader reads .proto text).
  ['pipeline/engine/proto', 'dist/pipeline/engine/proto'],
];

for (const [from, to] of ASSETS) cpSync(from, to, { recursive: true });
