// Loss values against numbers worked out by hand (in the comments), gradients, errors and leak checks.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionError, ShapeMismatchError } from '../errors/errors';
import { Rng } from '../random/rng';
import { ensureGradients } from '../runtime/gradients';
import { adversarialEraseLoss, adversarialPreserveLoss } from './adversarial-preservation';
import { conceptAblationLoss } from './concept-ablation';
import { esdLoss } from './esd';
import { meanSquaredError } from './mse';
import { predictX0 } from './predict-x0';
import { realEraEvenStepLoss, realEraOddStepLoss } from './realera';
import { stopGradient } from './stop-gradient';

/** [1, 1, 1, C] tensor (one pixel, NHWC) from C values. */
const pixel = (values: number[]): tf.Tensor4D => tf.tensor4d(values, [1, 1, 1, values.length]);

/** Reads a scalar and disposes it. */
function take(scalar: tf.Tensor): number {
  const value = scalar.dataSync()[0] as number;
  expect(scalar.shape).toEqual([]);
  scalar.dispose();
  return value;
}

/** Runs `f` and checks that it leaves exactly one new tensor (its result) behind, then frees it. */
function expectNoLeak(f: () => tf.Tensor): void {
  const before = tf.memory().numTensors;
  const result = f();
  expect(tf.memory().numTensors).toBe(before + 1);
  result.dispose();
  expect(tf.memory().numTensors).toBe(before);
}

beforeAll(async () => {
  await ensureGradients();
});

describe.each(['cpu', 'wasm'])('losses on %s', (backend) => {
  beforeAll(async () => {
    expect(await tf.setBackend(backend)).toBe(true);
  });

  it('meanSquaredError is the mean over all elements', () => {
    // ((1-3)² + (2-(-1))²) / 2 = (4 + 9) / 2 = 6.5
    const [a, b] = [tf.tensor1d([1, 2]), tf.tensor1d([3, -1])];
    expect(take(meanSquaredError(a, b))).toBeCloseTo(6.5, 6);
    expect(() => meanSquaredError(a, tf.tensor1d([1, 2, 3]))).toThrow(ShapeMismatchError);
    expectNoLeak(() => meanSquaredError(a, b));
    tf.dispose([a, b]);
  });

  it('predictX0 with a scalar and a per-batch ᾱ', () => {
    // ᾱ = 0.64: √ᾱ = 0.8, √(1−ᾱ) = 0.6; z = (1,2), ε = (1,0) → ((1,2) − (0.6,0)) / 0.8 = (0.5, 2.5)
    const z = tf.tensor4d([1, 2, 1, 2], [2, 1, 1, 2]);
    const eps = tf.tensor4d([1, 0, 0.5, 1], [2, 1, 1, 2]);
    const single = predictX0(z, eps, 0.64);
    expect(Array.from(single.dataSync()).slice(0, 2).map((x) => +x.toFixed(6))).toEqual([0.5, 2.5]);
    single.dispose();
    // ᾱ = (0.64, 0.36); second sample: √ᾱ = 0.6, √(1−ᾱ) = 0.8 → ((1,2) − 0.8·(0.5,1)) / 0.6 = (1, 2)
    const alpha = tf.tensor1d([0.64, 0.36]);
    const batched = predictX0(z, eps, alpha);
    expect(Array.from(batched.dataSync()).map((x) => +x.toFixed(5))).toEqual([0.5, 2.5, 1, 2]);
    batched.dispose();
    // ᾱ = 1 is the identity on z.
    const identity = predictX0(z, eps, 1);
    expect(Array.from(identity.dataSync())).toEqual([1, 2, 1, 2]);
    identity.dispose();

    for (const bad of [0, -0.1, 1.5, Number.NaN]) expect(() => predictX0(z, eps, bad)).toThrow(InvalidOptionError);
    const wrong = tf.tensor1d([0.5, 0.5, 0.5]);
    expect(() => predictX0(z, eps, wrong as tf.Tensor1D)).toThrow(ShapeMismatchError);
    expect(() => predictX0(z, tf.zeros([2, 1, 1, 3]), 0.5)).toThrow(ShapeMismatchError);
    expectNoLeak(() => predictX0(z, eps, alpha));
    tf.dispose([z, eps, alpha, wrong]);
  });

  it('ESD loss', () => {
    // target = ε∅ − η(ε_c − ε∅); ε∅ = (0,1), ε_c = (1,0)
    // η = 1: target = (0,1) − (1,−1) = (−1, 2); trained (1,2): ((2)² + 0²)/2 = 2
    // η = 2: target = (0,1) − (2,−2) = (−2, 3): ((3)² + (−1)²)/2 = 5
    const p = { trainedConditional: pixel([1, 2]), frozenUnconditional: pixel([0, 1]), frozenConditional: pixel([1, 0]) };
    expect(take(esdLoss(p))).toBeCloseTo(2, 6);
    expect(take(esdLoss(p, { negativeGuidance: 2 }))).toBeCloseTo(5, 6);
    expect(() => esdLoss(p, { negativeGuidance: -1 })).toThrow(/negativeGuidance/);
    expect(() => esdLoss({ ...p, frozenConditional: tf.zeros([1, 1, 1, 3]) })).toThrow(ShapeMismatchError);
    expectNoLeak(() => esdLoss(p, { negativeGuidance: 2 }));
    tf.dispose(Object.values(p));
  });

  it('Adversarial Preservation erase and preserve losses (x̂0 form)', () => {
    // z = (1,2), ᾱ = 0.64: x̂0(ε) = (z − 0.6ε)/0.8.
    // x̂0(trained (1,2)) = (0.5, 1.0); x̂0(ε∅ (0,1)) = (1.25, 1.75); x̂0(ε_c (1,0)) = (0.5, 2.5)
    // target = (1.25,1.75) − ((0.5,2.5) − (1.25,1.75)) = (2.0, 1.0); diff (−1.5, 0) → 2.25/2 = 1.125
    const z = pixel([1, 2]);
    const erase = { latents: z, alphaBar: 0.64, trainedConditional: pixel([1, 2]), frozenUnconditional: pixel([0, 1]), frozenConditional: pixel([1, 0]) };
    expect(take(adversarialEraseLoss(erase))).toBeCloseTo(1.125, 5);
    // preserve: x̂0(trained (1,2)) = (0.5,1.0) vs x̂0(frozen (0,1)) = (1.25,1.75): diff (−0.75,−0.75) → 0.5625
    const preserve = { latents: z, alphaBar: 0.64, trainedAdversarial: pixel([1, 2]), frozenAdversarial: pixel([0, 1]) };
    expect(take(adversarialPreserveLoss(preserve))).toBeCloseTo(0.5625, 5);
    // Per-batch ᾱ = (0.64, 0.36): the x̂0 difference is −√(1−ᾱ)/√ᾱ·(trained − frozen) = −0.75·(1,1) and −(4/3)·(1,1),
    // so the mean of squares over 4 elements is (2·9/16 + 2·16/9)/4 = 337/288.
    const z2 = tf.tensor4d([1, 2, 1, 2], [2, 1, 1, 2]);
    const alpha = tf.tensor1d([0.64, 0.36]);
    const batched = { latents: z2, alphaBar: alpha, trainedAdversarial: tf.tensor4d([1, 2, 1, 2], [2, 1, 1, 2]), frozenAdversarial: tf.tensor4d([0, 1, 0, 1], [2, 1, 1, 2]) };
    expect(take(adversarialPreserveLoss(batched))).toBeCloseTo(337 / 288, 5);
    expect(() => adversarialPreserveLoss({ ...preserve, alphaBar: 0 })).toThrow(InvalidOptionError);
    expectNoLeak(() => adversarialEraseLoss(erase, { negativeGuidance: 0.5 }));
    expectNoLeak(() => adversarialPreserveLoss(batched));
    tf.dispose([z, z2, alpha, ...Object.values(erase).filter((x) => x instanceof tf.Tensor), ...Object.values(batched).filter((x) => x instanceof tf.Tensor)]);
    tf.dispose([preserve.trainedAdversarial, preserve.frozenAdversarial]);
  });

  it('the x̂0 erase loss is (1 − ᾱ)/ᾱ times the ε-form ESD loss', () => {
    const rng = new Rng(4);
    const shape = [2, 3, 3, 4];
    const [z, a, b, c] = [0, 1, 2, 3].map(() => rng.normalTensor(shape)) as tf.Tensor[];
    const alphaBar = 0.3;
    const esd = take(esdLoss({ trainedConditional: a!, frozenUnconditional: b!, frozenConditional: c! }, { negativeGuidance: 1.5 }));
    const x0 = take(adversarialEraseLoss({ latents: z!, alphaBar, trainedConditional: a!, frozenUnconditional: b!, frozenConditional: c! }, { negativeGuidance: 1.5 }));
    expect(x0 / esd).toBeCloseTo((1 - alphaBar) / alphaBar, 4);
    tf.dispose([z!, a!, b!, c!]);
  });

  it('RealEra odd- and even-step losses', () => {
    // odd: trained (1,2) vs anchor (0,0): (1 + 4)/2 = 2.5; with w_e = 2 → 5
    // even: neighbour (1,2) vs anchor (0,0) → 2.5; beyond (1,1) vs frozen beyond (0,1) → (1 + 0)/2 = 0.5
    //       weights (1, 1) → 3; weights (1, 3) → 2.5 + 1.5 = 4
    const odd = { trainedErased: pixel([1, 2]), frozenAnchor: pixel([0, 0]) };
    expect(take(realEraOddStepLoss(odd))).toBeCloseTo(2.5, 6);
    expect(take(realEraOddStepLoss(odd, { eraseWeight: 2 }))).toBeCloseTo(5, 6);
    const even = { trainedNeighbor: pixel([1, 2]), frozenAnchor: odd.frozenAnchor, trainedBeyond: pixel([1, 1]), frozenBeyond: pixel([0, 1]) };
    expect(take(realEraEvenStepLoss(even))).toBeCloseTo(3, 6);
    expect(take(realEraEvenStepLoss(even, { neighborWeight: 1, beyondWeight: 3 }))).toBeCloseTo(4, 6);
    expect(() => realEraEvenStepLoss(even, { beyondWeight: -1 })).toThrow(/beyondWeight/);
    expect(() => realEraOddStepLoss({ ...odd, frozenAnchor: pixel([0, 0, 0]) })).toThrow(ShapeMismatchError);
    expectNoLeak(() => realEraOddStepLoss(odd, { eraseWeight: 0.5 }));
    expectNoLeak(() => realEraEvenStepLoss(even, { neighborWeight: 2 }));
    tf.dispose([odd.trainedErased, odd.frozenAnchor, even.trainedNeighbor, even.trainedBeyond, even.frozenBeyond]);
  });

  it('Concept Ablation loss, with and without a valid-region mask', () => {
    // target (1,2,3,4) vs anchor (0,2,3,2): (1 + 0 + 0 + 4)/4 = 1.25
    const target = tf.tensor4d([1, 2, 3, 4], [1, 2, 1, 2]);
    const anchor = tf.tensor4d([0, 2, 3, 2], [1, 2, 1, 2]);
    expect(take(conceptAblationLoss({ targetPrediction: target, anchorPrediction: anchor }))).toBeCloseTo(1.25, 6);
    // mask keeps the first pixel: squared errors (1, 0) there → 'elements' 1/2 = 0.5, 'pixels' 1/1 = 1
    const mask = tf.tensor4d([1, 0], [1, 2, 1, 1]);
    expect(take(conceptAblationLoss({ targetPrediction: target, anchorPrediction: anchor }, { mask }))).toBeCloseTo(0.5, 6);
    expect(take(conceptAblationLoss({ targetPrediction: target, anchorPrediction: anchor }, { mask, maskNormalization: 'pixels' }))).toBeCloseTo(1, 6);
    // all-ones mask = unmasked loss; a second sample (errors all 1, mask all 1 → 1) averages per sample: (0.5 + 1)/2
    const ones = tf.ones([1, 2, 1, 1]) as tf.Tensor4D;
    expect(take(conceptAblationLoss({ targetPrediction: target, anchorPrediction: anchor }, { mask: ones }))).toBeCloseTo(1.25, 6);
    const target2 = tf.tensor4d([1, 2, 3, 4, 1, 1, 1, 1], [2, 2, 1, 2]);
    const anchor2 = tf.tensor4d([0, 2, 3, 2, 0, 0, 0, 0], [2, 2, 1, 2]);
    const mask2 = tf.tensor4d([1, 0, 1, 1], [2, 2, 1, 1]);
    expect(take(conceptAblationLoss({ targetPrediction: target2, anchorPrediction: anchor2 }, { mask: mask2 }))).toBeCloseTo(0.75, 6);

    expect(() => conceptAblationLoss({ targetPrediction: target, anchorPrediction: anchor }, { mask: tf.ones([1, 1, 2, 1]) as tf.Tensor4D })).toThrow(ShapeMismatchError);
    expect(() => conceptAblationLoss({ targetPrediction: target, anchorPrediction: anchor }, { maskNormalization: 'sum' as 'pixels' })).toThrow(InvalidOptionError);
    expectNoLeak(() => conceptAblationLoss({ targetPrediction: target2, anchorPrediction: anchor2 }, { mask: mask2 }));
    expectNoLeak(() => conceptAblationLoss({ targetPrediction: target, anchorPrediction: anchor }));
    tf.dispose([target, anchor, mask, ones, target2, anchor2, mask2]);
  });

  it('stopGradient: identity forward, zero gradient backward', () => {
    // f(x) = Σ sg(x)·x → f'(x) = sg(x) = x (only the second factor is differentiated)
    const x = tf.tensor1d([1, 2, 3]);
    const grad = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(stopGradient(v), v)))(x);
    expect(Array.from(grad.dataSync())).toEqual([1, 2, 3]);
    const copy = stopGradient(x);
    expect(Array.from(copy.dataSync())).toEqual([1, 2, 3]);
    expectNoLeak(() => stopGradient(x));
    tf.dispose([x, grad, copy]);
  });

  it('gradients flow into the trained prediction only', () => {
    // (+0 normalises −0.) ESD: dL/dp = 2(p − target)/N = 2·((1,2) − (−1,2))/2 = (2, 0); frozen inputs get 0
    const [p, e0, ec] = [pixel([1, 2]), pixel([0, 1]), pixel([1, 0])];
    const esdGrads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      esdLoss({ trainedConditional: a, frozenUnconditional: b, frozenConditional: c }),
    )([p, e0, ec]);
    expect(esdGrads.map((g) => Array.from(g.dataSync(), (v) => v + 0))).toEqual([[2, 0], [0, 0], [0, 0]]);
    // x̂0 erase: dL/dε = 2(x̂0 − T)/N · (−0.6/0.8) = 2·(−1.5, 0)/2 · (−0.75) = (1.125, 0)
    const z = pixel([1, 2]);
    const apGrad = tf.grad((a: tf.Tensor) =>
      adversarialEraseLoss({ latents: z, alphaBar: 0.64, trainedConditional: a, frozenUnconditional: e0, frozenConditional: ec }),
    )(p);
    expect(Array.from(apGrad.dataSync()).map((v) => +v.toFixed(5))).toEqual([1.125, 0]);
    // Concept Ablation: d/dtarget = 2(t − a)/4 = (0.5, 0, 0, 1); the anchor gets 0
    const [t, a] = [tf.tensor4d([1, 2, 3, 4], [1, 2, 1, 2]), tf.tensor4d([0, 2, 3, 2], [1, 2, 1, 2])];
    const caGrads = tf.grads((u: tf.Tensor, v: tf.Tensor) => conceptAblationLoss({ targetPrediction: u, anchorPrediction: v }))([t, a]);
    expect(caGrads.map((g) => Array.from(g.dataSync(), (v) => v + 0))).toEqual([[0.5, 0, 0, 1], [0, 0, 0, 0]]);
    tf.dispose([p, e0, ec, z, t, a, apGrad, ...esdGrads, ...caGrads]);
  });
});
