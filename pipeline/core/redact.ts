/**
 * Credential redaction for anything that may contain a stream URL: config values, log lines,
 * ffmpeg's stderr (ffmpeg prints the input URL verbatim, credentials included).
 */

/** `scheme://userinfo@` – greedy up to the last `@` before a `/`, quote or space, as ffmpeg splits it. */
const USERINFO_RE = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/'"?#]*)@/gi;

/**
 * `user:password@` without a well-formed `scheme://` in front (a mistyped `rtsp:/user:pw@host`, a
 * URL pasted into a path, `rtsp:/@user:pw@host`): anything shaped like userinfo after a character
 * that cannot be part of a user name (slash, quote, space, `?#@:=`) or at line start.
 */
const LOOSE_USERINFO_RE = /(^|[\s/'"?#@:=])([^\s/'"?#@:]+):([^\s/'"?#@]*)@(?=[^\s/@])/g;

/** Query/fragment parameters whose value is a secret (`?password=...&token=...`). */
const SECRET_PARAM_RE =
  /([?&;#]|\b)(password|passwd|pass|pwd|token|access_token|auth|authorization|key|api_key|apikey|secret|signature|sig|session)=([^&\s'"#;]*)/gi;

/**
 * Every query parameter (`?name=value`, `&name=value`): cameras name their credential parameters
 * anything (`pw=`, `loginpas=`, `usr_pwd=`), so values are hidden unless the name is known to be
 * harmless (HARMLESS_PARAMS).
 */
const QUERY_PARAM_RE = /([?&])([^=&\s'"#?]+)=([^&\s'"#]*)/g;

/** Query parameters that select a stream's channel, profile or format on common cameras: shown as they are. */
export const HARMLESS_PARAMS: ReadonlySet<string> = new Set([
  'channel', 'ch', 'chn', 'subtype', 'stream', 'streamtype', 'profile', 'track', 'trackid', 'unicast', 'transport',
  'resolution', 'res', 'fps', 'framerate', 'width', 'height', 'codec', 'videocodec', 'format', 'quality', 'compression',
  'bitrate', 'audio', 'video', 'camera', 'cam', 'id', 'index', 'source', 'proto', 'protocol', 'mode',
]);

/**
 * Redacts credentials in a URL or in any text containing URLs: `user:pass@` becomes `***:***@`
 * (`user@` becomes `***@`), every query parameter but the HARMLESS_PARAMS keeps its name but
 * loses its value, and so do secret-named parameters anywhere (`password=`, `token=`, ...).
 * Idempotent. Never throws.
 */
export function redactUrl(text: string): string {
  return text
    .replace(USERINFO_RE, (_m, scheme: string, info: string) => `${scheme}${info.includes(':') ? '***:***' : '***'}@`)
    .replace(LOOSE_USERINFO_RE, (m, lead: string, user: string) => (user === '***' ? m : `${lead}***:***@`))
    .replace(SECRET_PARAM_RE, (_m, lead: string, name: string) => `${lead}${name}=***`)
    .replace(QUERY_PARAM_RE, (m, lead: string, name: string) => (HARMLESS_PARAMS.has(name.toLowerCase()) ? m : `${lead}${name}=***`));
}

/** The secret substrings of one URL (password, user, secret parameter values), decoded and raw. */
function secretsOf(url: string): string[] {
  const out = new Set<string>();
  const add = (s: string): void => {
    // Very short values (e.g. a one-letter user) would redact unrelated text; the regexes cover them.
    if (s.length < 3) return;
    out.add(s);
    try {
      out.add(decodeURIComponent(s));
    } catch {
      // not percent-encoded: the raw form is enough
    }
  };
  for (const m of url.matchAll(USERINFO_RE)) {
    const info = m[2] ?? '';
    const colon = info.indexOf(':');
    if (colon < 0) add(info);
    else {
      add(info.slice(0, colon));
      add(info.slice(colon + 1));
    }
  }
  for (const m of url.matchAll(SECRET_PARAM_RE)) add(m[3] ?? '');
  for (const m of url.matchAll(QUERY_PARAM_RE)) if (!HARMLESS_PARAMS.has((m[2] ?? '').toLowerCase())) add(m[3] ?? '');
  return [...out].sort((a, b) => b.length - a.length);
}

/**
 * Builds a redactor for lines that may echo one known URL in any form (ffmpeg sometimes prints
 * credentials outside the URL, e.g. in auth errors). Decided once at construction: a stream
 * without credentials gets the plain regex pass only.
 */
export function createLineRedactor(url: string): (line: string) => string {
  const secrets = secretsOf(url);
  if (secrets.length === 0) return redactUrl;
  return (line: string): string => {
    let out = redactUrl(line);
    for (const s of secrets) if (out.includes(s)) out = out.split(s).join('***');
    return out;
  };
}
