/**
 * Runs one measurement in a child Node process and reads its result.
 *
 * Why a child per measurement: the wasm heap only grows (so a peak is per process), a wasm thread count is fixed
 * once tensors exist, and tfjs-wasm aborts the whole process when the 4 GiB heap is exhausted — a child's abort is
 * reported instead of ending the benchmark. The child prints one JSON object as its last stdout line
 * (`emitResult`); its stderr passes through to ours, prefixed.
 */
import { spawnSync } from 'node:child_process';

/** What a child run produced. */
export type ChildOutcome<T> =
  | { readonly ok: true; readonly result: T; readonly seconds: number }
  | { readonly ok: false; readonly reason: string; readonly seconds: number };

/** Prints the child's result (the parent reads the last stdout line). */
export function emitResult(result: unknown): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/**
 * Runs `script` (a .ts file, through the same tsx loader as this process) with `args` and parses its result.
 * @param timeoutMs the child is killed after this long (reported as a failure)
 */
export function runChild<T>(script: string, args: readonly string[], timeoutMs: number, label: string): ChildOutcome<T> {
  const start = performance.now();
  process.stderr.write(`[bench] ${label} …\n`);
  const run = spawnSync(process.execPath, [...process.execArgv, script, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
    maxBuffer: 64 * 2 ** 20,
  });
  const seconds = (performance.now() - start) / 1e3;
  const stderr = (run.stderr ?? '').trim();
  if (stderr) process.stderr.write(`${stderr.split('\n').map((l) => `  | ${l}`).join('\n')}\n`);
  const lines = (run.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{'));
  const last = lines[lines.length - 1];
  if (run.status === 0 && last !== undefined) {
    try {
      const parsed = JSON.parse(last) as T & { error?: string };
      if (parsed.error !== undefined) {
        process.stderr.write(`[bench] ${label}: FAILED after ${seconds.toFixed(0)} s (${parsed.error})\n`);
        return { ok: false, reason: parsed.error, seconds };
      }
      process.stderr.write(`[bench] ${label}: done in ${seconds.toFixed(0)} s\n`);
      return { ok: true, result: parsed, seconds };
    } catch {
      // fall through to the failure report
    }
  }
  const why = run.error !== undefined && (run.error as NodeJS.ErrnoException).code === 'ETIMEDOUT'
    ? `timed out after ${(timeoutMs / 1e3).toFixed(0)} s`
    : run.signal !== null
      ? `killed by ${run.signal}`
      : `exited with status ${run.status}`;
  const tail = stderr.split('\n').filter((l) => l.trim() !== '').slice(-3).join(' / ').slice(0, 400);
  process.stderr.write(`[bench] ${label}: FAILED after ${seconds.toFixed(0)} s (${why})\n`);
  return { ok: false, reason: tail ? `${why}: ${tail}` : why, seconds };
}
