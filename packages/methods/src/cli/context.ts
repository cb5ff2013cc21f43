/** What every command receives: output streams and the abort signal (Ctrl-C). */
import type { OutputStream } from './progress';

/** The I/O of one CLI run. */
export interface CommandContext {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly signal?: AbortSignal;
}

/** Prints `data` as JSON (with `--json`) or the human-readable `lines`, on stdout. */
export function report(context: CommandContext, json: boolean, data: unknown, lines: readonly string[]): void {
  context.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${lines.join('\n')}\n`);
}

/** Seconds since `start` (performance.now()), rounded to 0.01 s. */
export function secondsSince(start: number): number {
  return Math.round((performance.now() - start) / 10) / 100;
}
