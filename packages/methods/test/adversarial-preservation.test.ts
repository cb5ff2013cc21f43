/**
 * adversarialPreservation() on the fake attention model (and one short Gumbel run on the embedded ShapesWorld): the
 * first model update's loss against an independent x̂0-space computation, the Gumbel search's words (from the
 * vocabulary, the erased word excluded unless asked for), PGD moving c_a, abort restoring the weights, typed
 * option errors, determinism and no leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, InvalidOptionError, Rng, type DiffusionModel, type TextEncoder } from '@erase/core';
import { loadShapesWorld } from '@erase/shapes-world';
import { adversarialPreservation, vocabularyWords, type AdversarialPreservationOptions } from '../src/index';
import { attentionModel } from './fakes/attention-model';
import { ldmSampleTill, unetWeights as weights } from './fakes/reference-sampling';

const CONCEPT = 'cat';
// The fake encoder gives a word the id (first char code mod 29) + 1: these first letters are all distinct.
const WORDS = ['cat', 'dog', 'egg', 'fox', 'hat', 'ink', 'jar', 'kite', 'lamp', 'moon', 'nut', 'owl'];

describe('adversarialPreservation() on the fake attention model', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('Gumbel: first update loss = independent x̂0-space erase loss (preserve term 0 at θ\' = θ); words come from the vocabulary without the erased word', async () => {
    const S = 4;
    const eta = 0.5;
    const model = attentionModel();
    const reference = attentionModel();
    const result = await adversarialPreservation(model, {
      concepts: [CONCEPT],
      vocabulary: WORDS,
      iterations: 3,
      samplingSteps: S,
      negativeGuidance: eta,
      learningRate: 1e-2,
      gumbel: { k: 8, numCenters: 4 },
      seed: 2,
    });
    const gumbel = result.statistics.gumbel!;
    expect(gumbel.vocabularySize).toBe(WORDS.length);
    const candidates = gumbel.candidates[0]!;
    expect(candidates.nearest).toBe(8);
    expect(candidates.excluded).toEqual([CONCEPT]);
    expect(candidates.words).toHaveLength(4);
    expect(candidates.words).not.toContain(CONCEPT);
    for (const w of candidates.words) expect(WORDS).toContain(w);
    expect([...candidates.distances]).toEqual([...candidates.distances].sort((a, b) => a - b));
    for (const record of gumbel.iterations) {
      for (const w of [record.updateWord, record.searchWord, record.bestWord]) expect(candidates.words).toContain(w);
      expect(Number.isFinite(record.searchLoss)).toBe(true);
    }
    expect(gumbel.final[0]!.distribution.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    expect(result.changedParameters).toHaveLength(4);

    // Independent re-computation of iteration 1's model update on an identical, untrained model.
    const first = gumbel.iterations[0]!;
    const cond = reference.textEncoder.encodePrompts([CONCEPT]);
    const uncond = reference.textEncoder.encodePrompts(['']);
    const start = new Rng(first.noiseSeed).normalTensor([1, 4, 4, 2]) as tf.Tensor4D;
    const z = ldmSampleTill(reference, start, cond, uncond, S, 3, first.tEnc);
    const ddimStep = first.tEnc * (1000 / S) + 1; // ᾱ of ddim_alphas[t_enc]
    const a = reference.scheduler.alphasCumprod[ddimStep]!;
    const [eu, ec] = [reference.unet.predict(z, first.timestep, uncond), reference.unet.predict(z, first.timestep, cond)];
    const x0 = async (e: tf.Tensor): Promise<Float64Array> => {
      const zv = await z.data();
      return Float64Array.from(await e.data(), (v, i) => (zv[i]! - Math.sqrt(1 - a) * v) / Math.sqrt(a));
    };
    const [x0u, x0c] = [await x0(eu), await x0(ec)];
    let sum = 0;
    for (let i = 0; i < x0c.length; i++) sum += (x0c[i]! - (x0u[i]! - eta * (x0c[i]! - x0u[i]!))) ** 2;
    const expected = sum / x0c.length;
    expect(first.eraseLoss / expected, `t_enc ${first.tEnc}, t ${first.timestep}`).toBeCloseTo(1, 5);
    expect(first.preserveLoss).toBe(0);
    expect(first.loss).toBeCloseTo(first.eraseLoss, 6);
    tf.dispose([cond, uncond, start, z, eu, ec]);
    model.dispose();
    reference.dispose();
  });

  it('Gumbel: includeErasedWord keeps it (at distance 0), k and numCenters clamp to what there is, soft samples run', async () => {
    const model = attentionModel();
    const result = await adversarialPreservation(model, {
      concepts: [CONCEPT],
      vocabulary: WORDS.slice(0, 4),
      includeErasedWord: true,
      iterations: 1,
      samplingSteps: 2,
      gumbel: { k: 100, numCenters: 100, hard: false, tau: 1 }, // soft samples: c_a is a mixture of the rows
    });
    expect(result.statistics.gumbel!.iterations[0]!.loss).toBeGreaterThan(0);
    const candidates = result.statistics.gumbel!.candidates[0]!;
    expect(candidates.excluded).toEqual([]);
    expect(candidates.nearest).toBe(4);
    expect(candidates.words[0]).toBe(CONCEPT);
    expect(candidates.distances[0]).toBe(0);
    model.dispose();
  });

  it('PGD: c_a moves away from the erased embedding; L = L_erase + 0.01·L_preserve by default', async () => {
    const model = attentionModel();
    const tensors = tf.memory().numTensors;
    const result = await adversarialPreservation(model, {
      concepts: [CONCEPT, 'dog'],
      search: 'pgd',
      iterations: 4,
      samplingSteps: 3,
      learningRate: 1e-2,
      pgd: { steps: 3, alpha: 1e-2 },
      seed: 4,
    });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(result.options.preserveWeight).toBe(0.01);
    const records = result.statistics.pgd!.iterations;
    expect(records.map((r) => r.concept)).toEqual([CONCEPT, 'dog', CONCEPT, 'dog']);
    for (const r of records) {
      expect(r.distanceFromStart).toBeGreaterThan(0);
      expect(r.loss).toBeCloseTo(r.eraseLoss + 0.01 * r.preserveLoss, 5);
    }
    expect(records[0]!.preserveLoss).toBe(0); // c_a = c_e and θ' = θ at the first update
    expect(records[2]!.preserveLoss).toBeGreaterThan(0); // the search has moved c_a and θ' has moved
    expect(result.statistics.gumbel).toBeUndefined();
    model.dispose();
  });

  it('abort restores the weights and trainable flags and leaks nothing; errors are typed InvalidOptionErrors', async () => {
    const model = attentionModel();
    const before = await weights(model);
    const tensors = tf.memory().numTensors;
    for (const search of ['gumbel', 'pgd'] as const) {
      const controller = new AbortController();
      const options: AdversarialPreservationOptions = {
        concepts: [CONCEPT],
        search,
        vocabulary: WORDS,
        iterations: 10,
        learningRate: 1e-2,
        samplingSteps: 2,
        gumbel: { k: 6, numCenters: 3 },
        pgd: { steps: 2, alpha: 1e-2 },
        signal: controller.signal,
        onProgress: (event) => {
          if (event.stage === 'adversarial-preservation.train' && event.step === 2) controller.abort();
        },
      };
      await expect(adversarialPreservation(model, options)).rejects.toSatisfy((e) => AbortedError.isInstance(e));
      expect(await weights(model)).toEqual(before);
      expect([...model.unet.parameters().values()].every((v) => !v.trainable)).toBe(true);
      expect(tf.memory().numTensors).toBe(tensors);
    }

    const invalid = async (options: unknown, option: string): Promise<void> => {
      const error = await adversarialPreservation(model, options as AdversarialPreservationOptions).then(() => undefined, (e: unknown) => e);
      expect(InvalidOptionError.isInstance(error), String(error)).toBe(true);
      expect((error as InvalidOptionError).option).toBe(option);
    };
    await invalid({ concepts: [] }, 'concepts');
    await invalid({ concepts: [''] }, 'concepts');
    await invalid({ concepts: [CONCEPT], search: 'random' }, 'search');
    await invalid({ concepts: [CONCEPT], trainable: 'v' }, 'trainable');
    await invalid({ concepts: [CONCEPT], iterations: 0 }, 'iterations');
    await invalid({ concepts: [CONCEPT], learningRate: 0 }, 'learningRate');
    await invalid({ concepts: [CONCEPT], preserveWeight: -1 }, 'preserveWeight');
    await invalid({ concepts: [CONCEPT], samplingSteps: 5000 }, 'samplingSteps');
    await invalid({ concepts: [CONCEPT], gumbel: { k: 0 } }, 'gumbel.k');
    await invalid({ concepts: [CONCEPT], gumbel: { tau: 0 } }, 'gumbel.tau');
    await invalid({ concepts: [CONCEPT], gumbel: { hard: 1 } }, 'gumbel.hard');
    await invalid({ concepts: [CONCEPT], gumbel: { temperature: 2 } }, 'gumbel.temperature');
    await invalid({ concepts: [CONCEPT], pgd: { steps: 0 } }, 'pgd.steps');
    await invalid({ concepts: [CONCEPT], pgd: { alpha: -1 } }, 'pgd.alpha');
    await invalid({ concepts: [CONCEPT], vocabulary: [] }, 'vocabulary');
    await invalid({ concepts: [CONCEPT], vocabulary: [CONCEPT, 'Cat'] }, 'vocabulary'); // nothing left after excluding it
    await invalid({ concepts: [CONCEPT], includeErasedWord: 'yes' }, 'includeErasedWord');
    await invalid({ concepts: [CONCEPT], seed: Number.NaN }, 'seed');
    expect(await weights(model)).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensors);
    model.dispose();
  });

  it('is deterministic for a seed and leaks nothing', async () => {
    const run = async (seed: number): Promise<{ json: string; weights: Map<string, Float32Array> }> => {
      const model = attentionModel();
      const tensors = tf.memory().numTensors;
      const result = await adversarialPreservation(model, { concepts: [CONCEPT], vocabulary: WORDS, iterations: 3, learningRate: 1e-2, samplingSteps: 3, gumbel: { k: 8, numCenters: 4 }, seed });
      result.dispose();
      expect(tf.memory().numTensors).toBe(tensors);
      const out = { json: JSON.stringify({ ...result.statistics, seconds: 0 }), weights: await weights(model) };
      model.dispose();
      return out;
    };
    const a = await run(5);
    const b = await run(5);
    const c = await run(6);
    expect(b.json).toBe(a.json);
    expect(b.weights).toEqual(a.weights);
    expect(c.json).not.toBe(a.json);
  });

  it('vocabularyWords keeps whole ASCII words of 2+ letters (`…</w>`), lower-cased and distinct, in id order', () => {
    const encoder = {
      vocabulary: () =>
        new Map([['dog</w>', 5], ['cat</w>', 3], ['ca', 4], ['1</w>', 6], ['x-y</w>', 7], ['Cat</w>', 8], ['<|endoftext|>', 9], ['cafÃ©</w>', 10], ['ķ</w>', 11], ['b</w>', 12], ['Owl</w>', 13]]),
    } as unknown as TextEncoder;
    expect(vocabularyWords(encoder)).toEqual(['cat', 'dog', 'owl']);
  });
});

describe('adversarialPreservation() on the embedded ShapesWorld (tiny settings)', () => {
  it('Gumbel over the world vocabulary: candidates exclude the erased word; two iterations train attn2 and leak nothing', async () => {
    const world = await loadShapesWorld({ backend: 'wasm', oracle: false });
    const vocabulary = vocabularyWords(world.textEncoder);
    expect(vocabulary).toContain('circle');
    const tensors = tf.memory().numTensors;
    const result = await adversarialPreservation(world, { concepts: ['circle'], iterations: 2, samplingSteps: 3, learningRate: 1e-3, gumbel: { k: 16, numCenters: 4 }, seed: 1 });
    expect(tf.memory().numTensors).toBe(tensors);
    const gumbel = result.statistics.gumbel!;
    expect(gumbel.vocabularySize).toBe(vocabulary.length);
    expect(gumbel.candidates[0]!.excluded).toEqual(['circle']);
    for (const w of gumbel.candidates[0]!.words) {
      expect(vocabulary).toContain(w);
      expect(w).not.toBe('circle');
    }
    console.info(`world candidates for "circle": ${gumbel.candidates[0]!.words.join(', ')}; picked ${gumbel.iterations.map((r) => r.bestWord).join(', ')}`);
    expect(result.statistics.losses).toHaveLength(2);
    expect(result.statistics.losses.every((l) => Number.isFinite(l) && l > 0)).toBe(true);
    const attn2 = [...world.unet.parameters().keys()].filter((n) => n.includes('attn2'));
    expect(attn2).toHaveLength(35);
    expect(result.changedParameters).toEqual(attn2);
    world.dispose();
  });
});
