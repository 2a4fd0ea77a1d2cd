/**
 * The scripts' command-line flags: node's parseArgs with --help/-h and a usage line generated from the same
 * option table, so `--help` or a mistyped flag prints what the script accepts (and exits 0 / 2) instead of a
 * stack trace. What each flag does is in the comment at the top of each script.
 */
import { parseArgs } from 'node:util';

export type FlagSpec =
  | { type: 'string'; default?: string; short?: string }
  | { type: 'boolean'; default?: boolean; short?: string };

/** `usage: COMMAND [--name X (default)] [--switch] …` for the options not listed in `hidden`. */
export function usageOf(command: string, options: Readonly<Record<string, FlagSpec>>, hidden: readonly string[] = []): string {
  const parts = Object.entries(options)
    .filter(([name]) => !hidden.includes(name))
    .map(([name, o]) => (o.type === 'boolean' ? `[--${name}]` : `[--${name} X${o.default === undefined ? '' : ` (${o.default})`}]`));
  return `usage: ${command} ${parts.join(' ')}`;
}

/** Parsed flag values; `--help` prints the usage and exits 0, an unknown or malformed flag prints it and exits 2. */
type Parsed<O extends Readonly<Record<string, FlagSpec>>> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>
>['values'];

export function parseFlags<const O extends Readonly<Record<string, FlagSpec>>>(command: string, options: O, hidden: readonly string[] = []): Parsed<O> {
  const args = process.argv.slice(2);
  const usage = usageOf(command, options, hidden);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(usage);
    process.exit(0);
  }
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    console.error(`${command}: ${(err as Error).message}\n${usage}`);
    process.exit(2);
  }
}
