// The wiring of eq. 8 / eq. 9 in RealEra's LoRA stage, read off spies on the trained UNet and on ε̂ (the original
// model): which encoder context goes into which branch at an odd and at an even step. The loss formulas themselves are
// core's (tested there); here: p'_c and p''_c are E_c with exactly the erased rows replaced by fresh samples, the
// trained branch sees E_c (odd) or p'_c and p''_c (even), and the targets are ε̂ of E_c* and of p''_c.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, ensureGradients } from '@erase/core';
import { alignPredictionNoise } from '../src/realera/noise-alignment';
import { resolveRealEraOptions } from '../src/realera/options';
import type { ConceptSlices } from '../src/realera/concept-slices';
import type { OriginalModelView } from '../src/realera/original-model';
import { D, T, attentionModel } from './fakes/attention-model';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await ensureGradients(); // realEra() does this before its LoRA stage
});

const ERASE_START = 2;
const ANCHOR_START = 1;
const L = 2;

/** The distinct [T, D] contexts of a recorded [B, T, D] batch (every batch row is the same context here). */
function firstRow(ctx: tf.Tensor3D): Float32Array {
  const data = ctx.dataSync() as Float32Array;
  const row = data.slice(0, T * D);
  for (let b = 1; b < ctx.shape[0]; b++) expect(Array.from(data.subarray(b * T * D, (b + 1) * T * D))).toEqual(Array.from(row));
  return row;
}

const rowsDiffering = (a: Float32Array, b: Float32Array): number[] =>
  Array.from({ length: T }, (_, r) => r).filter((r) => a.subarray(r * D, (r + 1) * D).some((x, k) => x !== b[r * D + k]));

/** Runs two LoRA steps (odd, even) on the fake model and records the context of every trained and ε̂ prediction. */
async function record(numNeighbours: number, numBeyond: number) {
  const model = attentionModel();
  const rng = new Rng(3);
  const [context, anchorContext] = tf.tidy(() => [0, 1].map(() => rng.normalTensor([T, D]).dataSync() as Float32Array)) as [Float32Array, Float32Array]; // E_c, E_c* [T, D]
  const concept: ConceptSlices = {
    prompt: 'the cat',
    anchor: 'an animal',
    eraseStart: ERASE_START,
    anchorStart: ANCHOR_START, // differs from i, so a slice put at the anchor's offset would show
    rows: L,
    erase: context.slice(ERASE_START * D, (ERASE_START + L) * D),
    anchorSlice: anchorContext.slice(ANCHOR_START * D, (ANCHOR_START + L) * D),
    context: Float32Array.from(context),
    anchorContext: Float32Array.from(anchorContext),
  };
  const resolved = resolveRealEraOptions({ concepts: ['the cat'], lora: { steps: 2, batchSize: 2, learningRate: 1e-3 }, sampler: { numNeighbours, numBeyond } });
  const trained: { step: number; ctx: Float32Array }[] = [];
  const targets: { step: number; ctx: Float32Array }[] = [];
  let step = 1;
  const unetPredict = model.unet.predict.bind(model.unet);
  model.unet.predict = (zt, t, ctx) => {
    trained.push({ step, ctx: firstRow(ctx) });
    return unetPredict(zt, t, ctx);
  };
  const reference = {
    predict: (zt: tf.Tensor4D, _t: number, ctx: tf.Tensor3D) => {
      targets.push({ step, ctx: firstRow(ctx) });
      return tf.zerosLike(zt);
    },
  } as unknown as OriginalModelView;
  const adapter = model.unet.attachLora({ rank: 1, targetModules: ['attn2.to_k', 'attn2.to_v'], seed: 0 });
  const z0 = new Rng(5).normalTensor([3, 4, 4, 2]) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  try {
    const stats = await alignPredictionNoise(
      { model, concepts: [concept], anchorLatents: [z0], reference, adapter, options: resolved.lora, sampler: resolved.sampler, rng: new Rng(11), length: T, width: D },
      { onProgress: (e) => (step = e.step + 1) },
    );
    expect(tf.memory().numTensors).toBe(before);
    /** The distinct contexts of a step's calls, in order of first use. */
    const distinct = (calls: { step: number; ctx: Float32Array }[], s: number): Float32Array[] => {
      const out: Float32Array[] = [];
      for (const c of calls) if (c.step === s && !out.some((o) => o.every((x, k) => x === c.ctx[k]))) out.push(c.ctx);
      return out;
    };
    return { stats, concept, sampler: resolved.sampler, trained: (s: number) => distinct(trained, s), targets: (s: number) => distinct(targets, s) };
  } finally {
    adapter.detach();
    z0.dispose();
    model.dispose();
  }
}

/** Cosine of each replaced row (i … i + L − 1) of `ctx` with the concept's row e. */
function replacedCosines(ctx: Float32Array, concept: ConceptSlices): number[] {
  return Array.from({ length: L }, (_, r) => {
    const a = ctx.subarray((ERASE_START + r) * D, (ERASE_START + r + 1) * D);
    const e = concept.erase.subarray(r * D, (r + 1) * D);
    const dot = a.reduce((s, x, k) => s + x * (e[k] as number), 0);
    return dot / (Math.hypot(...a) * Math.hypot(...e));
  });
}

describe('alignPredictionNoise wiring (eq. 8 odd, eq. 9 even)', () => {
  it('odd: ε(E_c) against ε̂(E_c*); even: ε(p′_c) against ε̂(E_c*) and ε(p″_c) against ε̂(p″_c), the slices replaced in place', async () => {
    const { stats, concept, sampler, trained, targets } = await record(2, 2);
    expect(stats.evenSteps).toEqual([false, true]);
    // step 1 (eq. 8): the trained branch sees E_c, the target is ε̂(E_c*)
    expect(trained(1).map((c) => Array.from(c))).toEqual([Array.from(concept.context)]);
    expect(targets(1).map((c) => Array.from(c))).toEqual([Array.from(concept.anchorContext)]);
    // step 2 (eq. 9): p'_c then p''_c, each E_c with only rows [i, i + L) replaced
    const even = trained(2);
    expect(even).toHaveLength(2);
    for (const ctx of even) expect(rowsDiffering(ctx, concept.context)).toEqual([ERASE_START, ERASE_START + 1]);
    const [neighbour, beyond] = even as [Float32Array, Float32Array];
    // which is which, from the sample itself: a neighbour's cosine to e lies in the band, a beyond sample's below it
    for (const c of replacedCosines(neighbour, concept)) {
      expect(c).toBeGreaterThanOrEqual(sampler.cosLow - 1e-5);
      expect(c).toBeLessThanOrEqual(sampler.cosHigh + 1e-5);
    }
    for (const c of replacedCosines(beyond, concept)) expect(c).toBeLessThan(sampler.cosLow + 1e-5);
    // targets: ε̂(E_c*) for the neighbour term, ε̂(p''_c) — the context the trained beyond branch saw — for the beyond term
    expect(targets(2).map((c) => Array.from(c))).toEqual([Array.from(concept.anchorContext), Array.from(beyond)]);
  });

  it('M = 0: the even step trains on E_c (no neighbour drawn) beside the beyond term', async () => {
    const { stats, concept, sampler, trained, targets } = await record(0, 2);
    expect(stats.evenSteps).toEqual([false, true]);
    const [first, beyond] = trained(2) as [Float32Array, Float32Array];
    expect(trained(2)).toHaveLength(2);
    expect(Array.from(first)).toEqual(Array.from(concept.context));
    expect(rowsDiffering(beyond, concept.context)).toEqual([ERASE_START, ERASE_START + 1]);
    for (const c of replacedCosines(beyond, concept)) expect(c).toBeLessThan(sampler.cosLow + 1e-5);
    expect(targets(2).map((c) => Array.from(c))).toEqual([Array.from(concept.anchorContext), Array.from(beyond)]);
  });
});
