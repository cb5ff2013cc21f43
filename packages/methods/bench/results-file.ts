/**
 * The erasure benchmark's JSON results file (erasure.ts): reading it back for `--resume`, merging rows measured by
 * several runs, and a lock file so that runs started side by side (e.g. one per core, each on its own classes) can
 * share one `--out`. Rows are keyed by (method id, erased class); sweep points by (class, parameter, value); the
 * first row measured for a key is kept.
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';

export interface Figures { accE: number; accS: number; accG: number; ho: number }
export interface ClassRow {
  erasedClass: string;
  meanProbability: Figures;
  top1: Figures;
  methodSeconds: number;
  evalSeconds: number;
  note?: string;
  /** The git commit of the code that measured the row (`-dirty`: with uncommitted source changes); absent in rows of older runs. */
  commit?: string;
}
export interface MethodRows { id: string; label: string; settings: string; rows: ClassRow[] }
export interface SweepRow { erasedClass: string; parameter: string; value: string; meanProbability: Figures; methodSeconds: number; commit?: string }

/** A sweep point's key within one class: `parameter=value` (the `sweepOrder` of mergeResults, claims in erasure.ts). */
export const sweepPointKey = (p: { parameter: string; value: string }): string => `${p.parameter}=${p.value}`;

/** What the results JSON holds: every finished row, the commands that measured them, and what makes rows comparable. */
export interface ResultsFile {
  commands: string[];
  /** SHA-256 of the world's weight files (rows from other weights are refused). */
  weightsSha256: string;
  /** The world's sampling guidance (model_index.json's `guidance_scale`: not part of the weight files' hash). */
  guidanceScale: number;
  seeds: number;
  otherSeeds: number;
  /** Every method × every class present. */
  complete: boolean;
  results: MethodRows[];
  sweep: SweepRow[];
}

/** What rows must share to sit in one table. */
export interface Comparable { weightsSha256: string; guidanceScale: number; seeds: number; otherSeeds: number }

/**
 * Reads `path` (undefined when absent) and checks it was measured like this run.
 * @returns a message naming the file and the mismatch instead of the file when it cannot be merged
 */
export function readResultsFile(path: string, expect: Comparable): ResultsFile | undefined | { problem: string } {
  if (!existsSync(path)) return undefined;
  let file: Partial<ResultsFile>;
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as Partial<ResultsFile>;
  } catch (error) {
    return { problem: `${path} is not readable JSON (${(error as Error).message})` };
  }
  const problems = [
    file.weightsSha256 !== expect.weightsSha256 ? `was measured on other world weights (sha256 ${String(file.weightsSha256)}; these are ${expect.weightsSha256})` : '',
    file.guidanceScale !== expect.guidanceScale ? `sampled at guidance ${String(file.guidanceScale)} (this world samples at ${expect.guidanceScale})` : '',
    file.seeds !== expect.seeds || file.otherSeeds !== expect.otherSeeds ? `used --seeds ${String(file.seeds)} --other-seeds ${String(file.otherSeeds)}` : '',
    !Array.isArray(file.results) || !Array.isArray(file.sweep) || !Array.isArray(file.commands) ? 'lacks the commands/results/sweep arrays' : '',
  ].filter(Boolean);
  if (problems.length > 0) return { problem: `${path} ${problems.join('; ')}` };
  return file as ResultsFile;
}

/**
 * `base` with every row, sweep point and command of `extra` it lacks added (method order of `methodOrder`, then
 * methods missing from it in the order met: a run started before a method was added must not drop its rows). Sweep
 * points follow `sweepOrder` (keys `parameter=value`), not the order runs side by side happened to finish them;
 * points missing from it keep their order, after the listed ones.
 * @returns a message when one method's rows were measured with different settings
 */
export function mergeResults(base: ResultsFile, extra: ResultsFile, methodOrder: readonly string[], sweepOrder: readonly string[] = []): ResultsFile | { problem: string } {
  const results: MethodRows[] = [];
  // methods this run does not know (added to the benchmark after it started) are kept, after the known ones
  const unknown = [...base.results, ...extra.results].map((m) => m.id).filter((id) => !methodOrder.includes(id));
  for (const id of [...methodOrder, ...new Set(unknown)]) {
    const a = base.results.find((m) => m.id === id);
    const b = extra.results.find((m) => m.id === id);
    // `extra`'s settings bind only where it measured rows (`base` is the running code, which may add rows to them);
    // an entry with no rows has nothing to contradict, and `base`'s settings stand
    if (a && b && b.rows.length > 0 && a.settings !== b.settings) return { problem: `${id}'s settings differ between runs ("${a.settings}" vs "${b.settings}")` };
    const first = a ?? b;
    if (!first) continue;
    const rows = [...(a?.rows ?? [])];
    for (const row of b?.rows ?? []) if (!rows.some((r) => r.erasedClass === row.erasedClass)) rows.push(row);
    results.push({ ...first, rows });
  }
  const sweep = [...base.sweep];
  const sameSweepPoint = (x: SweepRow, y: SweepRow): boolean => x.erasedClass === y.erasedClass && x.parameter === y.parameter && x.value === y.value;
  for (const point of extra.sweep) if (!sweep.some((p) => sameSweepPoint(p, point))) sweep.push(point);
  const rank = (p: SweepRow): number => {
    const i = sweepOrder.indexOf(sweepPointKey(p));
    return i === -1 ? sweepOrder.length : i;
  };
  sweep.sort((x, y) => rank(x) - rank(y)); // stable: ties (unlisted points, one point in several classes) keep their order
  const commands = [...base.commands, ...extra.commands.filter((c) => !base.commands.includes(c))];
  return { ...base, commands, results, sweep };
}

/** Waits (synchronously) this many milliseconds. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Runs `fn` holding `${path}.lock` (created exclusively; another holder is waited for, a lock older than `staleMs`
 * — a crashed run — is taken over).
 */
export function withFileLock<T>(path: string, fn: () => T, staleMs = 60_000): T {
  const lock = `${path}.lock`;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx'));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        if (Date.now() - statSync(lock).mtimeMs > staleMs) {
          // take the stale lock over by renaming it to a name of our own first: of two waiters only one rename
          // succeeds, so neither can delete a lock the other has just created
          const mine = `${lock}.stale.${process.pid}.${Date.now()}`;
          renameSync(lock, mine);
          // what we renamed may be a fresh lock another waiter created after our check: then put it back
          if (Date.now() - statSync(mine).mtimeMs > staleMs || existsSync(lock)) rmSync(mine, { force: true });
          else renameSync(mine, lock);
        }
      } catch {
        // removed or taken over by someone else in between: try again
      }
      sleepSync(100);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { force: true });
  }
}
