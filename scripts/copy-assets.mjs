// Copies the files that ship but are not compiled (the viewer page: HTML, JS, CSS) into dist/,
// next to the compiled daemon that serves them: the built package never reads the source tree.
import { cpSync } from 'node:fs';

const ASSETS = [['daemon/viewer', 'dist/daemon/viewer']];

for (const [from, to] of ASSETS) cpSync(from, to, { recursive: true });
