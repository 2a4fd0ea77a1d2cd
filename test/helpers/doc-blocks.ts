/**
 * Fenced code blocks of the user docs (README.md, docs/*.md), for the docs test: each with its file,
 * line, language and the block right after it (a command's documented output).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

export interface DocBlock {
  /** Repo-relative path. */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly lang: string;
  readonly body: string;
  /** The next block of the same file when only blank lines separate the two. */
  readonly next: DocBlock | null;
}

/** One command of a shell block: backslash continuations joined; blank and comment-only lines left out. */
export interface DocCommand {
  readonly block: DocBlock;
  readonly file: string;
  /** 1-based line of its first physical line in the file. */
  readonly line: number;
  readonly text: string;
}

export function docFiles(): string[] {
  const docs = readdirSync(join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort();
  return ['README.md', ...docs.map((f) => `docs/${f}`)];
}

export function docBlocks(file: string): DocBlock[] {
  const lines = readFileSync(join(REPO_ROOT, file), 'utf8').split('\n');
  const raw: { line: number; end: number; lang: string; body: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i] as string);
    if (open === null) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] as string); i++) body.push(lines[i] as string);
    raw.push({ line: start + 1, end: i + 1, lang: open[1] ?? '', body: body.join('\n') });
  }
  const out: DocBlock[] = [];
  for (let k = raw.length - 1; k >= 0; k--) {
    const b = raw[k] as (typeof raw)[number];
    const after = raw[k + 1];
    const adjacent = after !== undefined && lines.slice(b.end, after.line - 1).every((l) => l.trim() === '');
    out.unshift({ file, line: b.line, lang: b.lang, body: b.body, next: adjacent ? (out[0] ?? null) : null });
  }
  return out;
}

export function shellCommands(block: DocBlock): DocCommand[] {
  const lines = block.body.split('\n');
  const out: DocCommand[] = [];
  for (let i = 0; i < lines.length; i++) {
    const first = i;
    let text = lines[i] as string;
    while (text.endsWith('\\') && i + 1 < lines.length) text = `${text.slice(0, -1)} ${(lines[++i] as string).trim()}`;
    if (text.trim() === '' || text.trim().startsWith('#')) continue;
    out.push({ block, file: block.file, line: block.line + 1 + first, text: text.trim() });
  }
  return out;
}
