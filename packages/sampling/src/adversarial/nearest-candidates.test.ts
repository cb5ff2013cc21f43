import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionError, Rng, ShapeMismatchError } from '@erase/core';
import { nearestCandidates, reduceCandidates } from './nearest-candidates';
import { useBackend } from '../test-utils';

const V = 23;
const T = 3;
const D = 4;
const F = T * D;

function vocabularyData(seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: V * F }, () => rng.normal());
}

/** Brute force in float64: indices sorted by distance, then index. */
function bruteForce(vocab: Float32Array, concept: Float32Array, exclude: number[] = []): { index: number; distance: number }[] {
  const out: { index: number; distance: number }[] = [];
  for (let w = 0; w < V; w++) {
    if (exclude.includes(w)) continue;
    let s = 0;
    for (let f = 0; f < F; f++) s += ((vocab[w * F + f] as number) - (concept[f] as number)) ** 2;
    out.push({ index: w, distance: Math.sqrt(s) });
  }
  return out.sort((a, b) => a.distance - b.distance || a.index - b.index);
}

describe.each(['cpu', 'wasm'])('nearestCandidates (%s)', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('matches a brute-force search, for every accepted layout and chunk size', async () => {
    const vocab = vocabularyData(1);
    const concept = vocabularyData(2).slice(0, F);
    const expected = bruteForce(vocab, concept).slice(0, 6);
    const layouts: [number[], number[]][] = [
      [[V, T, D], [T, D]],
      [[V, F], [T, D]],
      [[V, T, D], [F]],
      [[V, F], [F]],
    ];
    for (const [vocabShape, conceptShape] of layouts) {
      const vocabulary = tf.tensor(vocab, vocabShape);
      const c = tf.tensor(concept, conceptShape);
      for (const chunkRows of [undefined, 1, 5, 100]) {
        const result = await nearestCandidates(c, vocabulary, 6, chunkRows === undefined ? {} : { chunkRows });
        expect(result.indices).toEqual(expected.map((x) => x.index));
        result.distances.forEach((d, i) => expect(d).toBeCloseTo(expected[i]!.distance, 4));
      }
      tf.dispose([vocabulary, c]);
    }
  });

  it('excludes given indices (the erased word itself) and reduces candidates by k-means', async () => {
    const vocab = vocabularyData(3);
    const concept = vocab.slice(7 * F, 8 * F); // word 7 is the concept itself
    const vocabulary = tf.tensor3d(vocab, [V, T, D]);
    const c = tf.tensor2d(concept, [T, D]);
    const withSelf = await nearestCandidates(c, vocabulary, 3);
    expect(withSelf.indices[0]).toBe(7);
    expect(withSelf.distances[0]).toBe(0);
    const excluded = await nearestCandidates(c, vocabulary, V - 1, { exclude: [7] });
    expect(excluded.indices).not.toContain(7);
    expect(excluded.indices).toEqual(bruteForce(vocab, concept, [7]).map((x) => x.index));
    const reduced = reduceCandidates(excluded, 4, 0);
    expect(reduced.indices).toHaveLength(4);
    for (let i = 1; i < 4; i++) expect(reduced.distances[i]).toBeGreaterThan(reduced.distances[i - 1] as number);
    reduced.indices.forEach((w, i) => expect(excluded.distances[excluded.indices.indexOf(w)]).toBe(reduced.distances[i]));
    tf.dispose([vocabulary, c]);
  });

  it('rejects mismatched shapes and bad k / exclude with typed errors, leaking nothing', async () => {
    const vocabulary = tf.tensor3d(vocabularyData(4), [V, T, D]);
    const c = tf.zeros([T, D]);
    const before = tf.memory().numTensors;
    await nearestCandidates(c, vocabulary, 2);
    expect(tf.memory().numTensors).toBe(before);
    const transposed = tf.zeros([D, T]);
    await expect(nearestCandidates(transposed, vocabulary, 2)).rejects.toSatisfy((e: unknown) => ShapeMismatchError.isInstance(e));
    const wrongSize = tf.zeros([T + 1, D]);
    await expect(nearestCandidates(wrongSize, vocabulary, 2)).rejects.toSatisfy((e: unknown) => ShapeMismatchError.isInstance(e));
    for (const [k, options, option] of [
      [0, {}, 'k'],
      [V, { exclude: [1] }, 'k'],
      [2, { exclude: [V] }, 'exclude'],
      [2, { chunkRows: 0 }, 'chunkRows'],
    ] as const) {
      await expect(nearestCandidates(c, vocabulary, k, options)).rejects.toSatisfy(
        (e: unknown) => InvalidOptionError.isInstance(e) && e.option === option,
      );
    }
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([vocabulary, c, transposed, wrongSize]);
  });
});
