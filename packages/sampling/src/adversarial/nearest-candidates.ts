/**
 * Candidate words for Adversarial Preservation's discrete search (methods.md §4; official code
 * `gen_embedding_matrix.py::search_closest_tokens` with `sim='l2'`, then `learn_k_means_from_input_embedding`).
 *
 * Notation:
 *   V, T, D, F    vocabulary size, tokens per prompt (77), token width (768), F = T·D
 *   E_c   [F]     encoder output of the erased concept's prompt, flattened              → `concept`
 *   E_w   [V, F]  encoder output of the prompt "{word}" for every vocabulary word        → `vocabulary`
 *   d_w           ‖E_w − E_c‖₂ over the flattened embedding (torch `pairwise_distance`, p = 2)
 *   K             candidates kept, nearest first (1000; 2000 for nudity)                 → `k`
 *   numCenters    representatives after 1-D k-means on the d_w (100; 50 for nudity)
 * The official code does not exclude the erased word; we let the caller exclude indices (methods.md §4:
 * excluded by default — the caller passes the erased word's index).
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, ShapeMismatchError } from '@erase/core';
import { kMeans1d, type KMeans1dOptions } from './k-means-1d';

/** Options of {@link nearestCandidates}. */
export interface NearestCandidatesOptions {
  /** Vocabulary indices never returned (e.g. the erased word itself). Default none. */
  exclude?: readonly number[];
  /** Vocabulary rows per distance batch; default: as many as fit in 2^22 elements. */
  chunkRows?: number;
}

/** K candidates, nearest first (ties → lower vocabulary index). Host arrays. */
export interface Candidates {
  /** Vocabulary indices, length K. */
  readonly indices: readonly number[];
  /** ‖E_w − E_c‖₂ of each, float64 from float32 squared differences, ascending. */
  readonly distances: readonly number[];
}

/**
 * The K vocabulary entries nearest to the concept by L2 distance over the flattened embedding.
 * Distances are computed in float32 on the active backend, `chunkRows` rows at a time (no [V, F] temporary);
 * the inputs are neither changed nor disposed and no tensor outlives the call.
 *
 * @param concept E_c: [T, D] or [F] (any shape whose size is F).
 * @param vocabulary E_vocab: [V, T, D] or [V, F]; when its rank is concept's + 1, trailing shapes must match.
 * @param k K, 1 ≤ K ≤ V − |exclude|.
 * @throws ShapeMismatchError when the per-word size (or trailing shape) differs from the concept's.
 * @throws InvalidOptionError for a bad `k`, `exclude` or `chunkRows`, or a non-finite distance.
 */
export async function nearestCandidates(
  concept: tf.Tensor,
  vocabulary: tf.Tensor,
  k: number,
  options: NearestCandidatesOptions = {},
): Promise<Candidates> {
  if (vocabulary.rank < 2) {
    throw new ShapeMismatchError({ what: 'vocabulary embeddings [V, T, D] or [V, F]', expected: [null, concept.size], received: vocabulary.shape });
  }
  const v = vocabulary.shape[0] as number;
  const width = concept.size; // F
  const rowSize = vocabulary.size / Math.max(v, 1);
  const trailing = vocabulary.shape.slice(1);
  const trailingMismatch =
    vocabulary.rank === concept.rank + 1 && trailing.some((size, axis) => size !== concept.shape[axis]);
  if (rowSize !== width || trailingMismatch || width < 1) {
    throw new ShapeMismatchError({
      what: 'vocabulary embeddings (one row per word, each shaped like the concept)',
      expected: [null, ...(vocabulary.rank === concept.rank + 1 ? concept.shape : [width])],
      received: vocabulary.shape,
    });
  }
  const excluded = new Set<number>();
  for (const index of options.exclude ?? []) {
    if (!Number.isSafeInteger(index) || index < 0 || index >= v) {
      throw new InvalidOptionError({ option: 'exclude', expected: `vocabulary indices in [0, ${v})`, received: index });
    }
    excluded.add(index);
  }
  const available = v - excluded.size;
  if (!Number.isSafeInteger(k) || k < 1 || k > available) {
    throw new InvalidOptionError({ option: 'k', expected: `an integer in [1, ${available}] (V = ${v}, ${excluded.size} excluded)`, received: k });
  }
  const chunkRows = options.chunkRows ?? Math.max(1, Math.floor(2 ** 22 / width));
  if (!Number.isSafeInteger(chunkRows) || chunkRows < 1) {
    throw new InvalidOptionError({ option: 'chunkRows', expected: 'an integer >= 1', received: chunkRows });
  }

  const squared = new Float64Array(v); // [V]
  const flatVocabulary = tf.reshape(vocabulary, [v, width]); // [V, T, D] -> [V, F]
  const flatConcept = tf.reshape(concept, [1, width]); // [T, D] -> [1, F]
  try {
    for (let start = 0; start < v; start += chunkRows) {
      const rows = Math.min(chunkRows, v - start);
      const chunk = tf.tidy(() => {
        const block = tf.slice(flatVocabulary, [start, 0], [rows, width]); // [rows, F]
        const diff = tf.sub(tf.cast(block, 'float32'), tf.cast(flatConcept, 'float32')); // [rows, F] - [1, F] -> [rows, F]
        return tf.sum(tf.square(diff), 1); // [rows, F] -> [rows]
      });
      const values = await chunk.data(); // [rows]
      chunk.dispose();
      squared.set(values, start);
    }
  } finally {
    flatVocabulary.dispose();
    flatConcept.dispose();
  }

  const order: number[] = [];
  for (let w = 0; w < v; w++) {
    if (excluded.has(w)) continue;
    if (!Number.isFinite(squared[w] as number)) {
      throw new InvalidOptionError({ option: 'vocabulary', expected: 'finite embeddings', received: `a non-finite distance at word ${w}` });
    }
    order.push(w);
  }
  order.sort((a, b) => (squared[a] as number) - (squared[b] as number) || a - b);
  const indices = order.slice(0, k);
  return { indices, distances: indices.map((w) => Math.sqrt(squared[w] as number)) };
}

/**
 * Reduces candidates to `numCenters` representatives by 1-D k-means on their distances (see
 * {@link kMeans1d}: each cluster is represented by its member nearest the cluster center).
 * Returned nearest first (by cluster center). Fewer candidates than centers: all are returned.
 *
 * @throws InvalidOptionError from {@link kMeans1d}, or when indices and distances differ in length.
 */
export function reduceCandidates(
  candidates: Candidates,
  numCenters: number,
  seed = 0,
  options: KMeans1dOptions = {},
): Candidates {
  if (candidates.indices.length !== candidates.distances.length) {
    throw new InvalidOptionError({
      option: 'candidates',
      expected: 'as many distances as indices',
      received: `${candidates.indices.length} indices and ${candidates.distances.length} distances`,
    });
  }
  const clusters = kMeans1d(candidates.distances, numCenters, seed, options);
  return {
    indices: clusters.representatives.map((i) => candidates.indices[i] as number),
    distances: clusters.representatives.map((i) => candidates.distances[i] as number),
  };
}
