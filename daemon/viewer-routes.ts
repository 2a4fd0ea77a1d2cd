/**
 * The live viewer page's static files, served from fixed routes (exact paths, no file-system
 * lookups per request, so no path can reach any other file): the page (daemon/viewer/, copied into
 * dist/daemon/viewer/ by the build), and the compiled protocol decoder it imports
 * (dist/clients/ts/protocol-client.js — one decoder for Node clients and the browser). Both are
 * resolved next to this compiled module, so the built package never reads the source tree. Files
 * are read once at start-up.
 *
 * An access token in the page's URL (`/?token=…`) is carried into the URLs of the page's own
 * files and its WebSocket, so a daemon that requires one (server.token) serves the whole page.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';

/** Where the page's files are: dist/daemon/viewer/, beside this module (scripts/copy-assets.mjs puts them there). */
export const VIEWER_DIR = fileURLToPath(new URL('./viewer/', import.meta.url));
const PROTOCOL_CLIENT = fileURLToPath(new URL('../clients/ts/protocol-client.js', import.meta.url));

/** In index.html: replaced by `?token=…` when the page was requested with one, else removed. */
const QUERY_PLACEHOLDER = '{{query}}';

// Only what the page needs: its own files, its WebSocket, decoded JPEG blobs. No external requests.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface StaticFile {
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
}

/** Route path → file, content type. `/` and `/index.html` are the same page. */
const FILES: readonly { readonly routes: readonly string[]; readonly file: string; readonly contentType: string }[] = [
  { routes: ['/', '/index.html'], file: `${VIEWER_DIR}index.html`, contentType: 'text/html; charset=utf-8' },
  { routes: ['/viewer.js'], file: `${VIEWER_DIR}viewer.js`, contentType: 'text/javascript; charset=utf-8' },
  { routes: ['/viewer.css'], file: `${VIEWER_DIR}viewer.css`, contentType: 'text/css; charset=utf-8' },
  { routes: ['/protocol-client.js'], file: PROTOCOL_CLIENT, contentType: 'text/javascript; charset=utf-8' },
];

function tokenQuery(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  if (q === -1) return '';
  const token = new URLSearchParams(url.slice(q + 1)).get('token');
  // encodeURIComponent leaves nothing that could end an HTML attribute or start markup.
  return token ? `?token=${encodeURIComponent(token)}` : '';
}

function send(res: ServerResponse, f: StaticFile, body: Buffer | string): void {
  res.writeHead(200, {
    'content-type': f.contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'content-security-policy': CSP,
    'referrer-policy': 'no-referrer',
  });
  res.end(body);
}

/**
 * The viewer's routes for createHttpServer({ routes }). A missing file (a build that skipped
 * scripts/copy-assets.mjs) disables the page with one warning naming it; the daemon runs on.
 */
export function viewerRoutes(logger: Logger): ReadonlyMap<string, RequestListener> {
  const routes = new Map<string, RequestListener>();
  const files: StaticFile[] = [];
  for (const f of FILES) {
    try {
      files.push({ path: f.file, contentType: f.contentType, body: readFileSync(f.file) });
    } catch (err) {
      logger.warn({ file: f.file, err: (err as Error).message }, 'viewer page disabled: a file of it cannot be read');
      return routes;
    }
  }
  FILES.forEach((f, i) => {
    const file = files[i] as StaticFile;
    const isPage = f.routes.includes('/');
    const page = isPage ? file.body.toString('utf8') : '';
    const listener: RequestListener = isPage
      ? (req, res) => send(res, file, page.replaceAll(QUERY_PLACEHOLDER, tokenQuery(req)))
      : (_req, res) => send(res, file, file.body);
    for (const r of f.routes) routes.set(r, listener);
  });
  return routes;
}
