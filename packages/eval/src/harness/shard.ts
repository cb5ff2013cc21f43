/**
 * Sharding a generation plan over n workers and merging their results back.
 *
 * Shard i of n holds the contiguous items [⌊i·N/n⌋, ⌊(i+1)·N/n⌋): shards are disjoint, cover the plan, differ in
 * size by at most one, keep a case's images together as far as the split allows, and depend only on (plan, i, n).
 * A merge checks that the union of the results is exactly the plan — every key once, none missing, none foreign.
 */
import { InvalidOptionError } from '@erase/core';
import type { GenerationItem, GenerationPlan } from './plan';

/** The work of one shard. */
export interface GenerationShard {
  readonly fingerprint: string;
  readonly shardIndex: number;
  readonly shardCount: number;
  /** Items of the whole plan (so a worker can report progress against it). */
  readonly totalItems: number;
  readonly items: readonly GenerationItem[];
}

/** What one shard produced: one result per item, each naming the item's `key`. */
export interface ShardResults<T extends { readonly key: string }> {
  readonly fingerprint: string;
  readonly shardIndex: number;
  readonly shardCount: number;
  readonly results: readonly T[];
}

const planMismatchMarker = Symbol.for('@erase/eval.plan-mismatch');

/**
 * The merged results are not exactly the plan. Lists every duplicated, missing and unexpected key (and the
 * shards that disagree about the plan) at once. An `InvalidOptionError` with option `shards`.
 */
export class PlanMismatchError extends InvalidOptionError {
  readonly [planMismatchMarker] = true;
  readonly duplicates: readonly string[];
  readonly missing: readonly string[];
  readonly unexpected: readonly string[];
  constructor(args: { duplicates: readonly string[]; missing: readonly string[]; unexpected: readonly string[]; problems: readonly string[] }) {
    const list = (what: string, keys: readonly string[]): string[] =>
      keys.length === 0 ? [] : [`${what} (${keys.length}): ${keys.slice(0, 20).join(', ')}${keys.length > 20 ? ', …' : ''}`];
    const lines = [
      'The shard results are not exactly the plan.',
      ...args.problems,
      ...list('Duplicated keys', args.duplicates),
      ...list('Missing keys', args.missing),
      ...list('Keys not in the plan', args.unexpected),
    ];
    super({ option: 'shards', expected: 'results covering every plan item exactly once', message: lines.join('\n') });
    this.name = 'PlanMismatchError';
    this.duplicates = args.duplicates;
    this.missing = args.missing;
    this.unexpected = args.unexpected;
  }
  /** True for a PlanMismatchError from any copy of this package. */
  static override isInstance(error: unknown): error is PlanMismatchError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[planMismatchMarker] === true;
  }
}

/**
 * Shard `shardIndex` of `shardCount` of a plan.
 *
 * @throws InvalidOptionError when `shardCount` is not a positive integer or `shardIndex` is not in [0, shardCount).
 */
export function shardPlan(plan: GenerationPlan, shardIndex: number, shardCount: number): GenerationShard {
  if (!Number.isInteger(shardCount) || shardCount < 1) {
    throw new InvalidOptionError({ option: 'shardCount', expected: 'a positive integer', received: shardCount });
  }
  if (!Number.isInteger(shardIndex) || shardIndex < 0 || shardIndex >= shardCount) {
    throw new InvalidOptionError({ option: 'shardIndex', expected: `an integer in [0, ${shardCount})`, received: shardIndex });
  }
  const total = plan.items.length;
  const start = Math.floor((shardIndex * total) / shardCount);
  const end = Math.floor(((shardIndex + 1) * total) / shardCount);
  return { fingerprint: plan.fingerprint, shardIndex, shardCount, totalItems: total, items: plan.items.slice(start, end) };
}

/**
 * Merges shard results into plan order after checking that they are exactly the plan.
 *
 * @returns one result per plan item, in plan order.
 * @throws PlanMismatchError listing every duplicated, missing and unexpected key, a fingerprint that is not the
 *   plan's, shards that disagree on the shard count, or a shard index given twice.
 */
export function mergeShardResults<T extends { readonly key: string }>(
  plan: GenerationPlan,
  shards: readonly ShardResults<T>[],
): T[] {
  const problems: string[] = [];
  const shardIndices = new Set<number>();
  for (const shard of shards) {
    if (shard.fingerprint !== plan.fingerprint) {
      problems.push(`Shard ${shard.shardIndex} belongs to plan ${shard.fingerprint}, not ${plan.fingerprint}.`);
    }
    if (shard.shardCount !== shards[0]?.shardCount) {
      problems.push(`Shard ${shard.shardIndex} says ${shard.shardCount} shards; shard ${shards[0]?.shardIndex} says ${shards[0]?.shardCount}.`);
    }
    if (shardIndices.has(shard.shardIndex)) problems.push(`Shard index ${shard.shardIndex} appears more than once.`);
    shardIndices.add(shard.shardIndex);
  }

  const planKeys = new Set(plan.items.map((item) => item.key));
  const byKey = new Map<string, T>();
  const duplicates: string[] = [];
  const unexpected: string[] = [];
  for (const shard of shards) {
    for (const result of shard.results) {
      if (!planKeys.has(result.key)) unexpected.push(result.key);
      else if (byKey.has(result.key)) duplicates.push(result.key);
      else byKey.set(result.key, result);
    }
  }
  const missing = plan.items.filter((item) => !byKey.has(item.key)).map((item) => item.key);
  if (problems.length > 0 || duplicates.length > 0 || missing.length > 0 || unexpected.length > 0) {
    throw new PlanMismatchError({ duplicates, missing, unexpected, problems });
  }
  return plan.items.map((item) => byKey.get(item.key) as T);
}
