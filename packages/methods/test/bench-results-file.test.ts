import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mergeResults, readResultsFile, withFileLock, type ClassRow, type ResultsFile } from '../bench/results-file';
import { useTempDirs } from './temp-dirs';

const figures = (x: number) => ({ accE: x, accS: x, accG: x, ho: x });
const row = (erasedClass: string, x: number): ClassRow => ({ erasedClass, meanProbability: figures(x), top1: figures(x), methodSeconds: 1, evalSeconds: 2 });
const comparable = { weightsSha256: 'abc', guidanceScale: 3, seeds: 50, otherSeeds: 20 };
function file(commands: string[], results: ResultsFile['results'], sweep: ResultsFile['sweep'] = []): ResultsFile {
  return { commands, ...comparable, complete: false, results, sweep };
}

const tempDir = useTempDirs('bench-results-');

describe('erasure benchmark results file', () => {
  it('merges rows by (method, class), keeps the first row of a key, orders methods, adds new commands once', () => {
    const a = file(['run a'], [{ id: 'uce-2023', label: 'UCE 2023', settings: 's', rows: [row('moon', 1)] }]);
    const b = file(['run a', 'run b'], [
      { id: 'realera', label: 'RealEra', settings: 'r', rows: [row('moon', 3)] },
      { id: 'uce-2023', label: 'UCE 2023', settings: 's', rows: [row('moon', 2), row('heart', 4)] },
    ]);
    const merged = mergeResults(a, b, ['original', 'uce-2023', 'realera']);
    if ('problem' in merged) throw new Error(merged.problem);
    expect(merged.results.map((m) => m.id)).toEqual(['uce-2023', 'realera']);
    expect(merged.results[0]?.rows.map((r) => [r.erasedClass, r.meanProbability.accE])).toEqual([['moon', 1], ['heart', 4]]);
    expect(merged.commands).toEqual(['run a', 'run b']);
  });

  it('keeps the rows of methods missing from methodOrder (a run started before they were added)', () => {
    const older = file(['old'], [{ id: 'uce-2023', label: 'UCE 2023', settings: 's', rows: [row('moon', 1)] }]);
    const onDisk = file(['new'], [
      { id: 'uce-2023', label: 'UCE 2023', settings: 's', rows: [row('heart', 2)] },
      { id: 'added-later', label: 'new', settings: 'n', rows: [row('moon', 5), row('heart', 6)] },
    ]);
    const merged = mergeResults(older, onDisk, ['original', 'uce-2023']);
    if ('problem' in merged) throw new Error(merged.problem);
    expect(merged.results.map((m) => [m.id, m.rows.map((r) => r.erasedClass)])).toEqual([['uce-2023', ['moon', 'heart']], ['added-later', ['moon', 'heart']]]);
    // in both files: one entry, rows merged by class, first row of a key kept
    const twice = mergeResults(file([], [{ id: 'added-later', label: 'new', settings: 'n', rows: [row('moon', 7)] }]), onDisk, ['uce-2023']);
    if ('problem' in twice) throw new Error(twice.problem);
    expect(twice.results.map((m) => [m.id, m.rows.map((r) => [r.erasedClass, r.meanProbability.accE])])).toEqual([
      ['uce-2023', [['heart', 2]]],
      ['added-later', [['moon', 7], ['heart', 6]]],
    ]);
  });

  it('merges sweep points by (class, parameter, value)', () => {
    const point = (value: string, x: number) => ({ erasedClass: 'moon', parameter: 'D', value, meanProbability: figures(x), methodSeconds: 1 });
    const merged = mergeResults(file([], [], [point('1', 1)]), file([], [], [point('1', 9), point('2', 2)]), []);
    if ('problem' in merged) throw new Error(merged.problem);
    expect(merged.sweep.map((p) => [p.value, p.meanProbability.ho])).toEqual([['1', 1], ['2', 2]]);
  });

  it('orders sweep points by sweepOrder, not by when runs side by side finished them', () => {
    const point = (parameter: string, value: string) => ({ erasedClass: 'moon', parameter, value, meanProbability: figures(1), methodSeconds: 1 });
    const onDisk = file([], [], [point('M', '80'), point('D', '4'), point('extra', 'x'), point('D', '1')]);
    const merged = mergeResults(file([], [], [point('M', '5')]), onDisk, [], ['D=1', 'D=4', 'M=5', 'M=80']);
    if ('problem' in merged) throw new Error(merged.problem);
    expect(merged.sweep.map((p) => `${p.parameter}=${p.value}`)).toEqual(['D=1', 'D=4', 'M=5', 'M=80', 'extra=x']);
  });

  it('refuses to merge a method measured with other settings', () => {
    const a = file([], [{ id: 'ca', label: 'CA', settings: '100 steps', rows: [row('moon', 1)] }]);
    const b = file([], [{ id: 'ca', label: 'CA', settings: '400 steps', rows: [row('heart', 1)] }]);
    const merged = mergeResults(a, b, ['ca']);
    expect('problem' in merged && merged.problem).toMatch(/ca's settings differ/);
    // the running code (base) with no rows yet may not take on rows measured with other settings either
    const fresh = file([], [{ id: 'ca', label: 'CA', settings: '100 steps', rows: [] }]);
    expect(mergeResults(fresh, b, ['ca'])).toHaveProperty('problem');
    // but a file entry without rows binds nothing: its settings text is stale, the running code's stands
    const listed = file([], [{ id: 'ca', label: 'CA (old)', settings: '400 steps', rows: [] }]);
    const kept = mergeResults(a, listed, ['ca']);
    if ('problem' in kept) throw new Error(kept.problem);
    expect(kept.results[0]).toMatchObject({ label: 'CA', settings: '100 steps' });
    expect(kept.results[0]?.rows).toHaveLength(1);
  });

  it('reads a file back and refuses one from other weights, guidance or seeds, naming the file', () => {
    const dir = tempDir();
    const path = join(dir, 'results.json');
    expect(readResultsFile(path, comparable)).toBeUndefined();
    writeFileSync(path, JSON.stringify(file(['x'], [])));
    expect(readResultsFile(path, comparable)).toMatchObject({ commands: ['x'] });
    const other = readResultsFile(path, { ...comparable, weightsSha256: 'def' });
    expect(other && 'problem' in other && other.problem).toMatch(/results\.json was measured on other world weights/);
    const guidance = readResultsFile(path, { ...comparable, guidanceScale: 5 });
    expect(guidance && 'problem' in guidance && guidance.problem).toMatch(/sampled at guidance 3 \(this world samples at 5\)/);
    const seeds = readResultsFile(path, { ...comparable, seeds: 10 });
    expect(seeds && 'problem' in seeds && seeds.problem).toMatch(/used --seeds 50 --other-seeds 20/);
    writeFileSync(path, '{ not json');
    const broken = readResultsFile(path, comparable);
    expect(broken && 'problem' in broken && broken.problem).toMatch(/not readable JSON/);
  });

  it('the lock is held during the call and released after it, also when the call throws; a stale lock is taken over', () => {
    const dir = tempDir();
    const path = join(dir, 'results.json');
    expect(withFileLock(path, () => existsSync(`${path}.lock`))).toBe(true);
    expect(existsSync(`${path}.lock`)).toBe(false);
    expect(() => withFileLock(path, () => { throw new Error('inside'); })).toThrow('inside');
    expect(existsSync(`${path}.lock`)).toBe(false);
    writeFileSync(`${path}.lock`, '');
    const old = new Date(Date.now() - 120_000);
    utimesSync(`${path}.lock`, old, old);
    expect(withFileLock(path, () => 7)).toBe(7);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });
});
