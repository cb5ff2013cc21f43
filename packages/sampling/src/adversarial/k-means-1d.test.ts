import { describe, expect, it } from 'vitest';
import { InvalidOptionError, Rng } from '@erase/core';
import { kMeans1d } from './k-means-1d';

/** Optimal 1-D k-means inertia by brute force over contiguous partitions of the sorted values. */
function optimalInertia(values: readonly number[], k: number): number {
  const x = [...values].sort((a, b) => a - b);
  const cost = (i: number, j: number): number => {
    const part = x.slice(i, j);
    const mean = part.reduce((a, b) => a + b, 0) / part.length;
    return part.reduce((a, b) => a + (b - mean) ** 2, 0);
  };
  const best = (start: number, clusters: number): number => {
    if (clusters === 1) return cost(start, x.length);
    let result = Infinity;
    for (let end = start + 1; end <= x.length - clusters + 1; end++) result = Math.min(result, cost(start, end) + best(end, clusters - 1));
    return result;
  };
  return best(0, k);
}

describe('kMeans1d', () => {
  it('finds obvious clusters and represents each by its member nearest the center', () => {
    const values = [5.2, 0.9, 10.1, 1.0, 4.7, 9.9, 1.15, 5.0, 10.0];
    const result = kMeans1d(values, 3, 0);
    expect(result.centers[0]).toBeCloseTo((0.9 + 1.0 + 1.15) / 3, 12);
    expect(result.centers[1]).toBeCloseTo((5.2 + 4.7 + 5.0) / 3, 12);
    expect(result.centers[2]).toBeCloseTo((10.1 + 9.9 + 10.0) / 3, 12);
    expect(result.assignments).toEqual([1, 0, 2, 0, 1, 2, 0, 1, 2]);
    // Centers 1.0167, 4.9667, 10.0: nearest members 1.0 (index 3), 5.0 (index 7), 10.0 (index 8).
    expect(result.representatives).toEqual([3, 7, 8]);
    let inertia = 0;
    values.forEach((v, i) => (inertia += (v - (result.centers[result.assignments[i] as number] as number)) ** 2));
    expect(result.inertia).toBeCloseTo(inertia, 12);
  });

  it('is deterministic, independent of input order, and reaches the optimum on small problems', () => {
    const rng = new Rng(4);
    for (let trial = 0; trial < 5; trial++) {
      const values = Array.from({ length: 9 }, () => rng.uniformIn(0, 10));
      const a = kMeans1d(values, 3, 1);
      const b = kMeans1d(values, 3, 1);
      expect(b).toEqual(a);
      const shuffled = [...values].reverse();
      const c = kMeans1d(shuffled, 3, 1);
      expect(c.centers).toEqual(a.centers);
      expect(a.inertia).toBeCloseTo(optimalInertia(values, 3), 9);
    }
  });

  it('keeps every value when there are no more values than centers; rejects too few distinct values', () => {
    const small = kMeans1d([3, 1, 2], 5, 0);
    expect(small.centers).toEqual([1, 2, 3]);
    expect(small.assignments).toEqual([2, 0, 1]);
    expect(small.representatives).toEqual([1, 2, 0]);
    expect(() => kMeans1d([1, 1, 1, 2], 3, 0)).toThrow(InvalidOptionError);
    expect(() => kMeans1d([], 1, 0)).toThrow(InvalidOptionError);
    expect(() => kMeans1d([1, Number.NaN], 1, 0)).toThrow(InvalidOptionError);
    expect(() => kMeans1d([1, 2], 0, 0)).toThrow(InvalidOptionError);
  });

  it('gives k distinct representatives on a large problem with ties', () => {
    const rng = new Rng(9);
    const values = Array.from({ length: 1000 }, () => Math.round(rng.uniformIn(0, 200)) / 4);
    const result = kMeans1d(values, 100, 0);
    expect(result.centers).toHaveLength(100);
    expect(new Set(result.representatives).size).toBe(100);
    for (let c = 1; c < 100; c++) expect(result.centers[c]).toBeGreaterThan(result.centers[c - 1] as number);
    result.representatives.forEach((index, cluster) => expect(result.assignments[index]).toBe(cluster));
  });
});
