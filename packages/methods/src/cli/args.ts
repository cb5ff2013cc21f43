/**
 * Command-line parsing for `erase`: flag specs → node's `util.parseArgs`, typed values, `--config` merge and
 * validation. Every problem is an `InvalidOptionError` whose option is the flag (`--erase-scale`) or file, raised
 * before anything is loaded or written.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { InvalidOptionError } from '@erase/core';
import { readJsonConfig } from '@erase/sd';

/** How a flag's text becomes a value. */
export type FlagKind = 'string' | 'list' | 'number' | 'integer' | 'boolean' | 'choice';

/** One flag. */
export interface FlagSpec {
  readonly kind: FlagKind;
  readonly help: string;
  /** For 'choice': accepted words, each mapped to the value passed on (e.g. `xattn` → `'x'`). */
  readonly choices?: Readonly<Record<string, string>>;
  /** May be repeated (values collected in order). */
  readonly multiple?: boolean;
  /** Placeholder in the usage text. */
  readonly value?: string;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;
export type FlagValue = string | number | boolean | string[] | number[];
export type ParsedFlags = Record<string, FlagValue | undefined>;

/** Flags every command accepts. */
export const HELP_FLAG: FlagSpecs = { help: { kind: 'boolean', help: 'show this help' } };
/** Flags of commands that load a model. */
export const MODEL_FLAGS: FlagSpecs = {
  model: { kind: 'string', value: '<dir|file>', help: 'diffusers folder or single .safetensors file (default: the embedded shapes world)' },
  tokenizer: { kind: 'string', value: '<dir>', help: 'tokenizer folder, needed with a single-file --model' },
  backend: { kind: 'choice', choices: { cpu: 'cpu', wasm: 'wasm' }, help: 'tfjs backend: wasm | cpu (default wasm)' },
  threads: { kind: 'integer', value: '<n>', help: 'wasm threads' },
  json: { kind: 'boolean', help: 'print a machine-readable summary on stdout' },
};
/** Flags of commands that write a folder. */
export const OUTPUT_FLAGS: FlagSpecs = {
  out: { kind: 'string', value: '<dir>', help: 'output folder (written atomically; must be new or empty)' },
  overwrite: { kind: 'boolean', help: 'replace a non-empty --out folder' },
};

function invalid(flag: string, expected: string, received: unknown): InvalidOptionError {
  return new InvalidOptionError({ option: `--${flag}`, expected, received });
}

/** Converts one flag's text. @throws InvalidOptionError naming the flag */
export function convertFlag(flag: string, spec: FlagSpec, text: string): FlagValue {
  switch (spec.kind) {
    case 'string':
      if (text === '') throw invalid(flag, spec.value ?? 'a value', text);
      return text;
    case 'list':
      return text.split(',').map((s) => s.trim());
    case 'number': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) throw invalid(flag, 'a number', text);
      return n;
    }
    case 'integer': {
      const n = Number(text);
      if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw invalid(flag, 'an integer', text);
      return n;
    }
    case 'choice': {
      const choices = spec.choices ?? {};
      const value = choices[text];
      if (value === undefined) throw invalid(flag, `one of ${Object.keys(choices).join(', ')}`, text);
      return value;
    }
    case 'boolean':
      return true;
  }
}

/**
 * Parses `argv` against `specs` (strict: unknown flags and positionals are errors).
 * @throws InvalidOptionError naming the flag (unknown flag, missing value, bad number/choice)
 */
export function parseFlags(argv: readonly string[], specs: FlagSpecs, command: string): ParsedFlags {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(specs)) options[name] = { type: spec.kind === 'boolean' ? 'boolean' : 'string', ...(spec.multiple ? { multiple: true } : {}) };
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  let tokens: { kind: string; name?: string }[];
  try {
    ({ values, tokens } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false, tokens: true }));
  } catch (error) {
    const message = (error as Error).message;
    const flag = /'(-{1,2}[^' ]+)/.exec(message)?.[1] ?? /(--?[A-Za-z][\w-]*)/.exec(message)?.[1];
    const code = (error as NodeJS.ErrnoException).code;
    const what =
      code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
        ? `Unknown flag ${flag} for \`erase ${command}\` (see \`erase ${command} --help\`).`
        : code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
          ? `Unexpected argument ${/'([^']*)'/.exec(message)?.[1] ?? ''} for \`erase ${command}\`: every value follows its flag (see \`erase ${command} --help\`).`
          : `${message} (see \`erase ${command} --help\`).`;
    throw new InvalidOptionError({ option: flag ?? 'arguments', expected: 'a known flag with its value', received: argv.join(' '), message: what });
  }
  // a value flag given twice would silently keep the last value (`--concepts heart --concepts star` erases star only)
  const seen = new Map<string, number>();
  for (const token of tokens) if (token.kind === 'option' && token.name !== undefined) seen.set(token.name, (seen.get(token.name) ?? 0) + 1);
  for (const [name, count] of seen) {
    const spec = specs[name] as FlagSpec;
    if (count > 1 && spec.kind !== 'boolean' && !spec.multiple) {
      throw new InvalidOptionError({
        option: `--${name}`,
        expected: 'the flag once',
        received: `${count} times`,
        message: `--${name} was given ${count} times; give it once${name === 'concepts' || name.endsWith('-concepts') ? ' (several values: comma-separated)' : ''} (see \`erase ${command} --help\`).`,
      });
    }
  }
  const out: ParsedFlags = {};
  for (const [name, raw] of Object.entries(values)) {
    const spec = specs[name] as FlagSpec;
    if (spec.kind === 'boolean') out[name] = raw === true;
    else if (Array.isArray(raw)) out[name] = raw.map((r) => convertFlag(name, spec, String(r))) as string[] | number[];
    else if (raw !== undefined) out[name] = convertFlag(name, spec, String(raw));
  }
  return out;
}

/** A path flag that must exist. @throws InvalidOptionError naming the flag and the path */
export function existingPath(flag: string, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  if (!existsSync(path)) throw new InvalidOptionError({ option: `--${flag}`, expected: 'an existing path', received: path, message: `--${flag}: ${path} does not exist.` });
  return path;
}

/** A required flag. @throws InvalidOptionError naming it */
export function required<T>(flag: string, value: T | undefined, expected: string): T {
  if (value === undefined) throw new InvalidOptionError({ option: `--${flag}`, expected, received: undefined, message: `Missing --${flag} (${expected}).` });
  return value;
}

/**
 * Reads a `--config` JSON file: an object with the method's API option names (flags given on the command line win).
 * @throws FileFormatError naming the file when it is missing, not JSON or not an object
 */
export function readConfigFile(path: string): Record<string, unknown> {
  return readJsonConfig(path, 'a JSON object of options (--config)');
}

/** Sets `value` at a dotted option path (`lora.steps`), creating nested objects. */
export function setOption(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1] as string] = value;
}

/** Usage text: one line per flag. */
export function usage(command: string, summary: string, specs: FlagSpecs, extra = ''): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const placeholder = spec.kind === 'boolean' ? '' : ` ${spec.value ?? (spec.kind === 'choice' ? `<${Object.keys(spec.choices ?? {}).join('|')}>` : spec.kind === 'list' ? '<a,b,…>' : `<${spec.kind}>`)}`;
    return [`  --${name}${placeholder}`, spec.help + (spec.multiple ? ' (repeatable)' : '')] as const;
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return `Usage: erase ${command} [flags]\n\n${summary}\n\nFlags:\n${rows.map(([l, r]) => l.padEnd(width) + r).join('\n')}\n${extra}`;
}
