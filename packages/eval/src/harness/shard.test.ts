import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@erase/core';
import { createGenerationPlan } from './plan';
import type { GenerationPlan } from './plan';
import { PlanMismatchError, mergeShardResults, shardPlan } from './shard';
import type { ShardResults } from './shard';

// 7 cases × 3 images = 21 items.
const plan: GenerationPlan = createGenerationPlan(
  Array.from({ length: 7 }, (_, i) => ({ caseNumber: i, prompt: `prompt ${i}`, evaluationSeed: 100 + i, className: `c${i % 3}` })),
  { imagesPerCase: 3 },
);

interface Result {
  readonly key: string;
  readonly worker: number;
}

/** What n workers would hand back: each result names its item and the shard that made it. */
function runShards(n: number): ShardResults<Result>[] {
  return Array.from({ length: n }, (_, i) => {
    const shard = shardPlan(plan, i, n);
    return { fingerprint: shard.fingerprint, shardIndex: i, shardCount: n, results: shard.items.map((item) => ({ key: item.key, worker: i })) };
  });
}

describe('shardPlan', () => {
  it.each([1, 2, 3, 4, 5, 7, 20, 21, 25])('n = %i: disjoint, balanced, deterministic, and the union is the plan', (n) => {
    const shards = Array.from({ length: n }, (_, i) => shardPlan(plan, i, n));
    const keys = shards.flatMap((s) => s.items.map((item) => item.key));
    expect(new Set(keys).size).toBe(keys.length); // disjoint
    expect(keys).toEqual(plan.items.map((item) => item.key)); // union, in plan order
    const sizes = shards.map((s) => s.items.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(21);
    for (const s of shards) expect(s.totalItems).toBe(21);
    expect(Array.from({ length: n }, (_, i) => shardPlan(plan, i, n))).toEqual(shards);
  });

  it('rejects bad indices and counts', () => {
    expect(() => shardPlan(plan, 0, 0)).toThrow(InvalidOptionError);
    expect(() => shardPlan(plan, 3, 3)).toThrow(/shardIndex/);
    expect(() => shardPlan(plan, -1, 3)).toThrow(InvalidOptionError);
    expect(() => shardPlan(plan, 0.5, 3)).toThrow(InvalidOptionError);
  });
});

describe('mergeShardResults', () => {
  it.each([1, 3, 5, 21])('n = %i: merges in plan order whatever order the shards come back in', (n) => {
    const merged = mergeShardResults(plan, runShards(n).reverse());
    expect(merged.map((r) => r.key)).toEqual(plan.items.map((item) => item.key));
  });

  it('lists missing keys', () => {
    const shards = runShards(3);
    const dropped = [shards[0] as ShardResults<Result>, shards[2] as ShardResults<Result>];
    try {
      mergeShardResults(plan, dropped);
      expect.unreachable();
    } catch (error) {
      expect(PlanMismatchError.isInstance(error)).toBe(true);
      expect(InvalidOptionError.isInstance(error)).toBe(true);
      const e = error as PlanMismatchError;
      expect(e.missing).toEqual(shardPlan(plan, 1, 3).items.map((item) => item.key));
      expect(e.duplicates).toEqual([]);
      expect(e.message).toMatch(/Missing keys \(7\): 2_1, 2_2, 3_0/);
    }
  });

  it('lists duplicated and foreign keys and a repeated shard', () => {
    const shards = runShards(2);
    const first = shards[0] as ShardResults<Result>;
    const withExtra = { ...first, results: [...first.results, { key: '0_0', worker: 9 }, { key: '99_0', worker: 9 }] };
    expect(() => mergeShardResults(plan, [withExtra, shards[1] as ShardResults<Result>])).toThrow(PlanMismatchError);
    try {
      mergeShardResults(plan, [withExtra, shards[1] as ShardResults<Result>, shards[1] as ShardResults<Result>]);
      expect.unreachable();
    } catch (error) {
      const e = error as PlanMismatchError;
      expect(e.duplicates[0]).toBe('0_0');
      expect(e.duplicates.length).toBe(1 + (shards[1]?.results.length ?? 0));
      expect(e.unexpected).toEqual(['99_0']);
      expect(e.missing).toEqual([]);
      expect(e.message).toMatch(/Shard index 1 appears more than once/);
    }
  });

  it('rejects shards of another plan or another shard count', () => {
    const other = createGenerationPlan([{ caseNumber: 0, prompt: 'x', evaluationSeed: 1, className: 'c' }]);
    const shards = runShards(2);
    const foreign = { ...(shards[0] as ShardResults<Result>), fingerprint: other.fingerprint };
    expect(() => mergeShardResults(plan, [foreign, shards[1] as ShardResults<Result>])).toThrow(/belongs to plan/);
    const miscounted = { ...(shards[1] as ShardResults<Result>), shardCount: 3 };
    expect(() => mergeShardResults(plan, [shards[0] as ShardResults<Result>, miscounted])).toThrow(/says 3 shards/);
  });
});
