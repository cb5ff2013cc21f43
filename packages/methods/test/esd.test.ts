/**
 * esd() on the fake attention model (and one short run on the embedded ShapesWorld): the loss of a step against an
 * independent re-computation (ldm's DDIM loop written out here), which weights ESD-x / ESD-u train, training lowering
 * the ESD loss on a fixed batch, error/abort restoring the weights, typed option errors, determinism, no leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AbortedError,
  InvalidOptionError,
  Rng,
  UnsupportedError,
  type CrossAttentionSite,
  type DiffusionModel,
  type LoraAdapter,
  type LoraConfig,
  type NoisePredictor,
} from '@erase/core';
import { loadShapesWorld } from '@erase/shapes-world';
import { esd, type EsdOptions } from '../src/index';
import { attentionModel } from './fakes/attention-model';
import { ldmSampleTill, unetWeights as weights } from './fakes/reference-sampling';

const CONCEPT = 'a cat';

/**
 * The fake attention UNet plus non-attn2 parameters, so ESD-u has something to train:
 * ε = ((1 + w_t·t/1000) · inner(z W_in, t, E) + b) W_out with `conv_in.weight` W_in [C, C],
 * `down_blocks.0.resnets.0.time_emb_proj.weight` w_t [1], `time_embedding.linear_1.bias` b [C], `conv_out.weight` W_out [C, C].
 */
class WrappedUnet implements NoisePredictor {
  readonly inChannels: number;
  readonly sampleSize: number;
  readonly contextDim: number;
  private readonly extra: Map<string, tf.Variable>;
  throwWhenRecording = Infinity;

  constructor(readonly inner: NoisePredictor) {
    this.inChannels = inner.inChannels;
    this.sampleSize = inner.sampleSize;
    this.contextDim = inner.contextDim;
    const c = inner.inChannels;
    const rng = new Rng(77);
    const variable = (shape: number[], values: tf.Tensor): tf.Variable => {
      const v = tf.variable(tf.reshape(values, shape), false);
      values.dispose();
      return v;
    };
    this.extra = new Map([
      ['conv_in.weight', variable([c, c], tf.tidy(() => tf.add(tf.eye(c), rng.normalTensor([c, c], 0.1))))],
      ['down_blocks.0.resnets.0.time_emb_proj.weight', variable([1], tf.ones([1]))],
      ['time_embedding.linear_1.bias', variable([c], tf.zeros([c]))],
      ['conv_out.weight', variable([c, c], tf.tidy(() => tf.add(tf.eye(c), rng.normalTensor([c, c], 0.1))))],
    ]);
  }

  predict(latents: tf.Tensor4D, timesteps: number | tf.Tensor1D, context: tf.Tensor3D): tf.Tensor4D {
    return tf.tidy(() => {
      const [b, h, w, c] = latents.shape;
      const p = (name: string): tf.Variable => this.extra.get(name) as tf.Variable;
      const mixed = tf.reshape(tf.matMul(tf.reshape(latents, [-1, c]), p('conv_in.weight')), [b, h, w, c]) as tf.Tensor4D; // [B, H, W, C]
      // Fails half-way through a forward pass on the gradient tape (after a kernel saved tensors for the backward pass).
      if (tf.engine().state.gradientDepth > 0 && --this.throwWhenRecording <= 0) throw new Error('injected failure');
      const t = typeof timesteps === 'number' ? timesteps : 0;
      const scale = tf.add(1, tf.mul(p('down_blocks.0.resnets.0.time_emb_proj.weight'), t / 1000)); // [1]
      const inner = tf.add(tf.mul(this.inner.predict(mixed, timesteps, context), scale), p('time_embedding.linear_1.bias')); // [B, H, W, C]
      return tf.reshape(tf.matMul(tf.reshape(inner, [-1, c]), p('conv_out.weight')), [b, h, w, c]) as tf.Tensor4D; // [B, H, W, C]
    });
  }

  crossAttentionSites(): readonly CrossAttentionSite[] {
    return this.inner.crossAttentionSites();
  }

  attachLora(config: LoraConfig): LoraAdapter {
    return this.inner.attachLora(config);
  }

  parameters(): ReadonlyMap<string, tf.Variable> {
    return new Map([...this.extra.entries(), ...this.inner.parameters().entries()]);
  }

  dispose(): void {
    for (const v of this.extra.values()) v.dispose();
  }
}

function wrappedModel(): DiffusionModel & { readonly unet: WrappedUnet } {
  const base = attentionModel();
  const unet = new WrappedUnet(base.unet);
  return { ...base, unet, dispose: () => (unet.dispose(), base.dispose()) };
}

function trainableFlags(model: DiffusionModel): boolean[] {
  return [...model.unet.parameters().values()].map((v) => v.trainable);
}

/** mean((a − b)²) in float64 over host arrays. */
function mse(a: Float32Array, b: Float32Array | Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += ((a[i] as number) - (b[i] as number)) ** 2;
  return sum / a.length;
}

describe('esd() on the fake attention model', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('step 1 loss equals an independent ldm-style computation of ‖ε_c − [ε_u − η(ε_c − ε_u)]‖²', async () => {
    const S = 4;
    const eta = 0.5;
    const seen = new Set<number>();
    for (const seed of [0, 1, 2, 3, 4, 5]) {
      const model = attentionModel();
      const reference = attentionModel(); // identical weights: the frozen model at step 1
      const result = await esd(model, { concepts: [CONCEPT], iterations: 1, samplingSteps: S, negativeGuidance: eta, seed });
      const { tEnc, timestep, noiseSeed } = result.statistics.steps[0]!;
      seen.add(tEnc);
      expect(timestep).toBeGreaterThanOrEqual(250 * tEnc);
      expect(timestep).toBeLessThan(250 * (tEnc + 1));
      const cond = reference.textEncoder.encodePrompts([CONCEPT]);
      const uncond = reference.textEncoder.encodePrompts(['']);
      const start = new Rng(noiseSeed).normalTensor([1, 4, 4, 2]) as tf.Tensor4D;
      const z = ldmSampleTill(reference, start, cond, uncond, S, 3, tEnc);
      const [euTensor, ecTensor] = [reference.unet.predict(z, timestep, uncond), reference.unet.predict(z, timestep, cond)];
      const eu = Float32Array.from(await euTensor.data());
      const ec = Float32Array.from(await ecTensor.data());
      tf.dispose([euTensor, ecTensor]);
      const target = Float64Array.from(eu, (u, i) => u - eta * (ec[i]! - u));
      const expected = mse(ec, target);
      expect(result.statistics.losses[0]! / expected, `seed ${seed}: t_enc ${tEnc}, t ${timestep}`).toBeCloseTo(1, 5);
      tf.dispose([cond, uncond, start, z]);
      model.dispose();
      reference.dispose();
    }
    expect([...seen].some((t) => t >= 2), `t_enc values ${[...seen]}`).toBe(true); // a truncated sampling was checked
  });

  it('ESD-x trains exactly the attn2 weights; ESD-u none of them, nor the time embedding / output layers; flags restored', async () => {
    for (const variant of ['x', 'u'] as const) {
      const model = wrappedModel();
      const before = await weights(model);
      const flags = trainableFlags(model);
      const result = await esd(model, { concepts: [CONCEPT], variant, iterations: 3, learningRate: 1e-2, samplingSteps: 3 });
      const after = await weights(model);
      const changed = [...before.keys()].filter((name) => before.get(name)!.some((x, i) => x !== after.get(name)![i]));
      const expected = variant === 'x'
        ? ['blocks.0.attn2.to_k.weight', 'blocks.0.attn2.to_v.weight', 'blocks.1.attn2.to_k.weight', 'blocks.1.attn2.to_v.weight']
        : ['conv_in.weight', 'down_blocks.0.resnets.0.time_emb_proj.weight'];
      expect(result.changedParameters).toEqual(expected);
      expect(changed.sort()).toEqual([...expected].sort());
      expect(result.method).toBe('esd');
      expect(result.options.variant).toBe(variant);
      expect(JSON.parse(JSON.stringify(result.options))).toEqual(result.options);
      expect(trainableFlags(model)).toEqual(flags);
      result.dispose();
      model.dispose();
    }
    const plain = attentionModel(); // attn2 only: ESD-u has nothing to train
    await expect(esd(plain, { concepts: [CONCEPT], variant: 'u' })).rejects.toSatisfy((e) => UnsupportedError.isInstance(e));
    plain.dispose();
  });

  it('training with a larger learning rate lowers the ESD loss on a fixed batch', async () => {
    const model = attentionModel();
    const eta = 1;
    const batch = new Rng(11).normalTensor([6, 4, 4, 2]) as tf.Tensor4D; // fixed x_t
    const ts = tf.tensor1d([50, 150, 300, 500, 700, 900], 'float32');
    const cond = model.textEncoder.encodePrompts(Array(6).fill(CONCEPT));
    const uncond = model.textEncoder.encodePrompts(Array(6).fill(''));
    const target = tf.tidy(() => {
      const eu = model.unet.predict(batch, ts, uncond);
      const ec = model.unet.predict(batch, ts, cond);
      return tf.sub(eu, tf.mul(tf.sub(ec, eu), eta));
    });
    const lossNow = (): number => tf.tidy(() => tf.mean(tf.squaredDifference(model.unet.predict(batch, ts, cond), target)).dataSync()[0]!);
    const start = lossNow();
    const result = await esd(model, { concepts: [CONCEPT], iterations: 30, learningRate: 2e-2, samplingSteps: 4, negativeGuidance: eta, seed: 3 });
    const end = lossNow();
    console.info(`ESD loss on a fixed batch ${start.toFixed(4)} -> ${end.toFixed(4)}; per-step ${result.statistics.losses.map((l) => l.toFixed(3)).join(' ')}`);
    expect(end, `${start} -> ${end}`).toBeLessThan(0.7 * start);
    tf.dispose([batch, ts, cond, uncond, target]);
    model.dispose();
  });

  it('abort and errors (also inside the gradient tape) restore the weights and flags and leak nothing', async () => {
    const model = wrappedModel();
    const before = await weights(model);
    const flags = trainableFlags(model);
    const tensors = tf.memory().numTensors;
    const controller = new AbortController();
    const options: EsdOptions = {
      concepts: [CONCEPT],
      variant: 'u',
      iterations: 20,
      learningRate: 1e-2,
      samplingSteps: 3,
      signal: controller.signal,
      onProgress: (event) => {
        expect(event.stage).toBe('esd.train');
        if (event.step === 2) controller.abort();
      },
    };
    await expect(esd(model, options)).rejects.toSatisfy((e) => AbortedError.isInstance(e));
    expect(await weights(model)).toEqual(before);
    expect(trainableFlags(model)).toEqual(flags);
    expect(tf.memory().numTensors).toBe(tensors);

    model.unet.throwWhenRecording = 2; // the trained prediction of iteration 2, inside tf.variableGrads
    await expect(esd(model, { concepts: [CONCEPT], variant: 'x', iterations: 5, learningRate: 1e-2, samplingSteps: 3 })).rejects.toThrow('injected failure');
    expect(await weights(model)).toEqual(before);
    expect(trainableFlags(model)).toEqual(flags);
    expect(tf.memory().numTensors).toBe(tensors);
    model.unet.throwWhenRecording = Infinity;
    model.dispose();
  });

  it('validates options with InvalidOptionError naming the option', async () => {
    const model = attentionModel();
    const invalid = async (options: unknown, option: string): Promise<void> => {
      const error = await esd(model, options as EsdOptions).then(() => undefined, (e: unknown) => e);
      expect(InvalidOptionError.isInstance(error), String(error)).toBe(true);
      expect((error as InvalidOptionError).option).toBe(option);
    };
    await invalid({ concepts: [] }, 'concepts');
    await invalid({ concepts: 'a cat' }, 'concepts');
    await invalid({ concepts: [CONCEPT], iterations: 0 }, 'iterations');
    await invalid({ concepts: [CONCEPT], iterations: 2.5 }, 'iterations');
    await invalid({ concepts: [CONCEPT], learningRate: -1 }, 'learningRate');
    await invalid({ concepts: [CONCEPT], learningRate: 0 }, 'learningRate');
    await invalid({ concepts: [CONCEPT], negativeGuidance: Number.NaN }, 'negativeGuidance');
    await invalid({ concepts: [CONCEPT], guidanceScale: -1 }, 'guidanceScale');
    await invalid({ concepts: [CONCEPT], variant: 'y' }, 'variant');
    await invalid({ concepts: [CONCEPT], samplingSteps: 0 }, 'samplingSteps');
    await invalid({ concepts: [CONCEPT], samplingSteps: 1000 }, 'samplingSteps'); // T = 1000: τ_{S−1} would be 1000
    await invalid({ concepts: [CONCEPT], seed: 0.5 }, 'seed');
    await invalid({ concepts: [CONCEPT], iteration: 3 }, 'iteration');
    expect(await weights(model)).toEqual(await weights(attentionModel()));
    model.dispose();
  });

  it('is deterministic for a seed, cycles through several concepts, reports progress, and leaks nothing', async () => {
    const run = async (seed: number): Promise<{ losses: readonly number[]; concepts: string[]; weights: Map<string, Float32Array> }> => {
      const model = attentionModel();
      const tensors = tf.memory().numTensors;
      const steps: number[] = [];
      const result = await esd(model, {
        concepts: [CONCEPT, 'the dog'],
        iterations: 4,
        learningRate: 1e-2,
        samplingSteps: 3,
        seed,
        onProgress: (event) => steps.push(event.step),
      });
      expect(steps).toEqual([1, 2, 3, 4]);
      expect(tf.memory().numTensors).toBe(tensors);
      result.dispose();
      const out = { losses: result.statistics.losses, concepts: result.statistics.steps.map((s) => s.concept), weights: await weights(model) };
      model.dispose();
      return out;
    };
    const a = await run(7);
    const b = await run(7);
    const c = await run(8);
    expect(a.concepts).toEqual([CONCEPT, 'the dog', CONCEPT, 'the dog']);
    expect(b.losses).toEqual(a.losses);
    expect(b.weights).toEqual(a.weights);
    expect(c.losses).not.toEqual(a.losses);
    expect(a.losses.every(Number.isFinite)).toBe(true);
  });
});

describe('esd() on the embedded ShapesWorld (tiny settings)', () => {
  it('ESD-x (2 iterations) changes every attn2 parameter and nothing else; ESD-u (1 iteration) the rest but time embedding and output layers; no leaks', async () => {
    const world = await loadShapesWorld({ backend: 'wasm', oracle: false });
    const parameters = world.unet.parameters();
    const attn2 = [...parameters.keys()].filter((n) => n.includes('attn2'));
    const before = new Map(await Promise.all([...parameters.keys()].map(async (n) => [n, Float32Array.from(await parameters.get(n)!.data())] as const)));
    const tensors = tf.memory().numTensors;
    const result = await esd(world, { concepts: ['circle'], iterations: 2, samplingSteps: 4, learningRate: 1e-3, seed: 1 });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(result.changedParameters).toEqual(attn2);
    expect(attn2.length).toBe(35); // 7 transformer blocks × to_q, to_k, to_v, to_out.0.{weight, bias}
    expect(result.statistics.losses).toHaveLength(2);
    expect(result.statistics.losses.every((l) => Number.isFinite(l) && l > 0)).toBe(true);
    // every parameter checked: exactly the attn2 ones moved (not only what the method reports)
    const movedX: string[] = [];
    for (const [name, values] of before) if (Array.from(await parameters.get(name)!.data()).some((v, i) => v !== values[i])) movedX.push(name);
    expect(movedX).toEqual(attn2);
    expect([...parameters.values()].every((v) => !v.trainable)).toBe(true);

    // ESD-u, one iteration: 324 − 35 attn2 − 4 time_embedding − 4 conv_norm_out/conv_out = 281 tensors train.
    const probeU = ['conv_in.weight', 'down_blocks.0.resnets.0.time_emb_proj.weight', 'time_embedding.linear_1.weight', 'conv_out.weight', attn2[1]!];
    const beforeU = new Map(await Promise.all(probeU.map(async (n) => [n, Array.from(await parameters.get(n)!.data())] as const)));
    const resultU = await esd(world, { concepts: ['circle'], variant: 'u', iterations: 1, samplingSteps: 3, learningRate: 1e-3, seed: 2 });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(parameters.size).toBe(324);
    expect(resultU.changedParameters).toHaveLength(281);
    const moved = await Promise.all(probeU.map(async (n) => Array.from(await parameters.get(n)!.data()).some((x, i) => x !== beforeU.get(n)![i])));
    expect(moved).toEqual([true, true, false, false, false]);
    world.dispose();
  });
});
