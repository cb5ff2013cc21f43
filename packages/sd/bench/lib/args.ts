/**
 * Command-line options of the bench scripts: `--name value` pairs and bare `--flag`s, read from `process.argv`.
 */

/** The value after `--name`, or undefined. */
export function optionString(name: string, argv: readonly string[] = process.argv): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

/**
 * The number after `--name`, or `fallback`.
 * @throws Error naming the option when the value is not a finite number
 */
export function optionNumber(name: string, fallback: number, argv: readonly string[] = process.argv): number {
  const raw = optionString(name, argv);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`--${name} expects a number, got ${JSON.stringify(raw)}.`);
  return value;
}

/** Whether the bare `--name` flag is present. */
export function optionFlag(name: string, argv: readonly string[] = process.argv): boolean {
  return argv.includes(`--${name}`);
}
