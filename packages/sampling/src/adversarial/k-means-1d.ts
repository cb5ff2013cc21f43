/**
 * Deterministic 1-D k-means, used by Adversarial Preservation to reduce the K nearest vocabulary words to
 * `numCenters` representatives by clustering their distances to the erased concept (methods.md §4; official
 * code `gen_embedding_matrix.py::my_kmean`, sklearn `KMeans(n_clusters, random_state=0)` on the 1-D values).
 *
 * Notation:
 *   x    [n]  the values (distances ‖E_w − E_c‖ of the K candidates)     → `values`
 *   μ    [k]  cluster centers, ascending                                   → `centers`
 *   a    [n]  cluster of each value: argmin_j |x_i − μ_j| (ties → lower j) → `assignments`
 *   inertia = Σ_i (x_i − μ_{a_i})²
 * Algorithm: k-means++ seeding from `new Rng(seed)`, Lloyd iterations until the assignment is stable,
 * `restarts` seedings (default 10, as sklearn's classic n_init), the lowest inertia kept (ties → first).
 * An emptied cluster is moved to the value farthest from its center. Representative of a cluster: the
 * member nearest its center (ties → smaller value, then lower index). The official code takes the value
 * nearest the center among *all* values and may return one word for two centers; ours always returns
 * `k` distinct members.
 */
import { InvalidOptionError, Rng } from '@erase/core';

/** Result of {@link kMeans1d}. Host arrays only. */
export interface KMeans1dResult {
  /** Cluster centers μ, ascending. Length k. */
  readonly centers: readonly number[];
  /** Cluster (index into `centers`) of each value. Length n. */
  readonly assignments: readonly number[];
  /** For each cluster, the index (into `values`) of its member nearest its center. Length k. */
  readonly representatives: readonly number[];
  /** Σ_i (x_i − μ_{a_i})² of the kept run. */
  readonly inertia: number;
  /** Lloyd iterations of the kept run. */
  readonly iterations: number;
}

/** Options of {@link kMeans1d}. */
export interface KMeans1dOptions {
  /** Seedings tried; the lowest inertia wins. Default 10. */
  restarts?: number;
  /** Lloyd iterations per seeding. Default 300 (sklearn's default). */
  maxIterations?: number;
}

/**
 * Clusters 1-D values into `numCenters` clusters, deterministically for a given seed.
 * When `numCenters ≥ values.length` every value is its own cluster (the official code then keeps every
 * candidate), so `centers.length` is `min(numCenters, values.length)`.
 *
 * @param values finite numbers, at least one.
 * @param numCenters k ≥ 1.
 * @param seed seed of the k-means++ seeding (default 0).
 * @throws InvalidOptionError for empty or non-finite values, a bad k or option, or fewer distinct values
 *   than k (when k < n).
 */
export function kMeans1d(
  values: ArrayLike<number>,
  numCenters: number,
  seed = 0,
  options: KMeans1dOptions = {},
): KMeans1dResult {
  const n = values.length;
  if (n < 1) throw new InvalidOptionError({ option: 'values', expected: 'at least one value', received: 'an empty list' });
  const x = Float64Array.from(values as ArrayLike<number>); // [n]
  x.forEach((value, i) => {
    if (!Number.isFinite(value)) {
      throw new InvalidOptionError({ option: 'values', expected: 'finite numbers', received: `${value} at index ${i}` });
    }
  });
  if (!Number.isSafeInteger(numCenters) || numCenters < 1) {
    throw new InvalidOptionError({ option: 'numCenters', expected: 'an integer >= 1', received: numCenters });
  }
  const restarts = options.restarts ?? 10;
  const maxIterations = options.maxIterations ?? 300;
  if (!Number.isSafeInteger(restarts) || restarts < 1) {
    throw new InvalidOptionError({ option: 'restarts', expected: 'an integer >= 1', received: restarts });
  }
  if (!Number.isSafeInteger(maxIterations) || maxIterations < 1) {
    throw new InvalidOptionError({ option: 'maxIterations', expected: 'an integer >= 1', received: maxIterations });
  }
  if (!Number.isSafeInteger(seed)) throw new InvalidOptionError({ option: 'seed', expected: 'a safe integer', received: seed });

  // Values in ascending order (stable by index): assignment is then a monotone sweep.
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => (x[i] as number) - (x[j] as number) || i - j);
  const sorted = Float64Array.from(order, (i) => x[i] as number); // [n]

  if (numCenters >= n) {
    const assignments = new Array<number>(n);
    order.forEach((original, rank) => (assignments[original] = rank));
    return { centers: Array.from(sorted), assignments, representatives: order, inertia: 0, iterations: 0 };
  }
  let distinct = 1;
  for (let i = 1; i < n; i++) if (sorted[i] !== sorted[i - 1]) distinct++;
  if (distinct < numCenters) {
    throw new InvalidOptionError({
      option: 'numCenters',
      expected: `at most the number of distinct values (${distinct})`,
      received: numCenters,
    });
  }

  const rng = new Rng(seed);
  let best: Run | undefined;
  for (let restart = 0; restart < restarts; restart++) {
    const run = lloyd(sorted, seedPlusPlus(sorted, numCenters, rng), maxIterations);
    if (best === undefined || run.inertia < best.inertia) best = run;
  }
  const kept = best as Run;

  const assignments = new Array<number>(n);
  order.forEach((original, rank) => (assignments[original] = kept.labels[rank] as number));
  const representatives = new Array<number>(numCenters).fill(-1);
  const bestGap = new Array<number>(numCenters).fill(Infinity);
  // Ascending sweep: a strict `<` keeps the smaller value (then the lower index) on ties.
  order.forEach((original, rank) => {
    const label = kept.labels[rank] as number;
    const gap = Math.abs((sorted[rank] as number) - (kept.centers[label] as number));
    if (gap < (bestGap[label] as number)) {
      bestGap[label] = gap;
      representatives[label] = original;
    }
  });
  return {
    centers: Array.from(kept.centers),
    assignments,
    representatives,
    inertia: kept.inertia,
    iterations: kept.iterations,
  };
}

interface Run {
  centers: Float64Array; // [k] ascending
  labels: Int32Array; // [n] cluster of each sorted value
  inertia: number;
  iterations: number;
}

/** k-means++ seeding on sorted values: first center uniform, then ∝ squared distance to the nearest center. */
function seedPlusPlus(sorted: Float64Array, k: number, rng: Rng): Float64Array {
  const n = sorted.length;
  const centers = new Float64Array(k); // [k]
  centers[0] = sorted[rng.int(n)] as number;
  const nearest = new Float64Array(n); // [n] squared distance to the nearest chosen center
  for (let i = 0; i < n; i++) nearest[i] = ((sorted[i] as number) - (centers[0] as number)) ** 2;
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (let i = 0; i < n; i++) total += nearest[i] as number;
    let target = rng.uniform() * total;
    let pick = -1;
    for (let i = 0; i < n; i++) {
      const weight = nearest[i] as number;
      if (weight <= 0) continue;
      pick = i;
      target -= weight;
      if (target < 0) break;
    }
    centers[c] = sorted[pick] as number; // pick ≥ 0: there are at least k distinct values
    for (let i = 0; i < n; i++) {
      const d = ((sorted[i] as number) - (centers[c] as number)) ** 2;
      if (d < (nearest[i] as number)) nearest[i] = d;
    }
  }
  return centers.sort();
}

/** Lloyd iterations; centers kept ascending. */
function lloyd(sorted: Float64Array, initial: Float64Array, maxIterations: number): Run {
  const n = sorted.length;
  const k = initial.length;
  const centers = Float64Array.from(initial); // [k]
  const labels = new Int32Array(n).fill(-1); // [n]
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    const changed = assign(sorted, centers, labels);
    if (!changed) break;
    const sums = new Float64Array(k); // [k]
    const counts = new Int32Array(k); // [k]
    for (let i = 0; i < n; i++) {
      const label = labels[i] as number;
      sums[label] = (sums[label] as number) + (sorted[i] as number);
      counts[label] = (counts[label] as number) + 1;
    }
    let gaps: Float64Array | undefined; // [n] |x_i − μ_{a_i}|, computed only when a cluster emptied
    for (let c = 0; c < k; c++) {
      if ((counts[c] as number) > 0) {
        centers[c] = (sums[c] as number) / (counts[c] as number);
        continue;
      }
      // Empty cluster: move it onto the value farthest from its center, each such value used once.
      gaps ??= Float64Array.from(sorted, (value, i) => Math.abs(value - (centers[labels[i] as number] as number)));
      let far = 0;
      for (let i = 1; i < n; i++) if ((gaps[i] as number) > (gaps[far] as number)) far = i;
      gaps[far] = -Infinity;
      centers[c] = sorted[far] as number;
    }
    centers.sort();
  }
  assign(sorted, centers, labels);
  let inertia = 0;
  for (let i = 0; i < n; i++) inertia += ((sorted[i] as number) - (centers[labels[i] as number] as number)) ** 2;
  return { centers, labels, inertia, iterations };
}

/** Nearest center of each sorted value (ties between distinct centers → the lower); returns whether a label changed. */
function assign(sorted: Float64Array, centers: Float64Array, labels: Int32Array): boolean {
  let changed = false;
  let c = 0;
  for (let i = 0; i < sorted.length; i++) {
    const value = sorted[i] as number;
    // Advance while the next center is strictly nearer, or equal to this one (duplicates: the last takes the members).
    while (
      c + 1 < centers.length &&
      (Math.abs((centers[c + 1] as number) - value) < Math.abs((centers[c] as number) - value) ||
        centers[c + 1] === centers[c])
    ) {
      c++;
    }
    if (labels[i] !== c) {
      labels[i] = c;
      changed = true;
    }
  }
  return changed;
}
