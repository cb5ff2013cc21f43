/**
 * realEra() on the fake attention model: stage switches, the closed form's effect on ‖W c − W_org c*‖, the LoRA
 * stage lowering the eq. 8 loss, fusing, typed option errors, abort (model restored) and no leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, InvalidOptionError, Rng, ShapeMismatchError, type ProjectionName } from '@erase/core';
import { realEra, type RealEraOptions } from '../src/index';
import { OriginalModelView } from '../src/realera/original-model';
import { disposeWeights, readProjections } from '../src/shared/site-weights';
import { D, T, attentionModel } from './fakes/attention-model';

const CONCEPT = 'a cat';
const ANCHOR = '';
const SAMPLER = { numNeighbours: 3, numBeyond: 2 };

function latents(): tf.Tensor4D {
  return new Rng(7).normalTensor([3, 4, 4, 2]) as tf.Tensor4D;
}

async function snapshot(model: ReturnType<typeof attentionModel>): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const site of model.unet.sites) {
    for (const p of ['to_k', 'to_v'] as ProjectionName[]) out.set(`${site.path}.${p}`, Float32Array.from(await site.weights[p].data()));
  }
  return out;
}

/** Rows [from, from + rows) of a prompt's encoder output, float64 [rows, D] — computed here, not by the library. */
async function promptRows(model: ReturnType<typeof attentionModel>, prompt: string): Promise<{ data: Float64Array; last: number }> {
  const e = model.textEncoder.encodePrompts([prompt]);
  const data = Float64Array.from(await e.data());
  e.dispose();
  const count = model.textEncoder.tokenize([prompt]).attentionMask[0]!.reduce((s, x) => s + x, 0);
  return { data, last: count - 2 };
}

/** ‖C Wᵀ − C* W_orgᵀ‖_F for the UCE-2023 aligned slices of (concept, anchor). */
function residual(conceptRows: { data: Float64Array; last: number }, anchorRows: { data: Float64Array; last: number }, w: Float32Array, wOrg: Float32Array, out: number): number {
  const rows = T - Math.max(conceptRows.last, anchorRows.last);
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < out; o++) {
      let a = 0;
      let b = 0;
      for (let d = 0; d < D; d++) {
        a += conceptRows.data[(conceptRows.last + r) * D + d]! * w[o * D + d]!;
        b += anchorRows.data[(anchorRows.last + r) * D + d]! * wOrg[o * D + d]!;
      }
      sum += (a - b) ** 2;
    }
  }
  return Math.sqrt(sum);
}

describe('realEra() on the fake attention model', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('closed form only: lowers ‖W c − W_org c*‖ on every edited projection, no LoRA, no mining', async () => {
    const model = attentionModel();
    const before = await snapshot(model);
    const result = await realEra(model, { concepts: [CONCEPT], stages: { mining: false, lora: false } });
    expect(result.statistics.mining).toBeUndefined();
    expect(result.statistics.lora).toBeUndefined();
    expect(result.lora).toBeUndefined();
    expect(result.statistics.closedForm?.neighbourKeyCount).toBe(0);
    expect(result.statistics.closedForm?.eraseKeyCount).toBe(T - 2); // 'a cat': i = 2, anchor '' i = 0 → L = 6
    expect(result.statistics.closedForm?.preserveKeyCount).toBe(T); // '' preserved, all T rows
    const after = await snapshot(model);
    const c = await promptRows(model, CONCEPT);
    const a = await promptRows(model, ANCHOR);
    for (const [key, wOrg] of before) {
      const wNew = after.get(key)!;
      expect(Array.from((await result.weights.get(key)!.data()) as Float32Array)).toEqual(Array.from(wNew));
      const r0 = residual(c, a, wOrg, wOrg, 4);
      const r1 = residual(c, a, wNew, wOrg, 4);
      console.info(`${key}: ‖W c − W_org c*‖ ${r0.toFixed(3)} -> ${r1.toFixed(3)}`);
      expect(r1, `${key}: ${r0} -> ${r1}`).toBeLessThan(0.5 * r0);
    }
    result.dispose();
    model.dispose();
  });

  it('mining adds M·L neighbour and N·L beyond keys to the closed form; closedForm.useMinedSamples switches them off', async () => {
    const model = attentionModel();
    const result = await realEra(model, { concepts: [CONCEPT], stages: { lora: false }, sampler: SAMPLER, seed: 3 });
    const L = T - 2;
    expect(result.statistics.mining?.[0]?.rows).toBe(L);
    expect(result.statistics.closedForm?.neighbourKeyCount).toBe(3 * L);
    expect(result.statistics.closedForm?.beyondKeyCount).toBe(2 * L);
    expect(result.statistics.closedForm?.eraseKeyCount).toBe(L + 3 * L);
    expect(result.statistics.closedForm?.preserveKeyCount).toBe(T + 2 * L);
    result.dispose();
    model.dispose();
    const other = attentionModel();
    const off = await realEra(other, { concepts: [CONCEPT], stages: { lora: false }, sampler: SAMPLER, closedForm: { useMinedSamples: false } });
    expect(off.statistics.mining).toHaveLength(1);
    expect(off.statistics.closedForm?.neighbourKeyCount).toBe(0);
    off.dispose();
    other.dispose();
  });

  it('mined samples are rescaled to ‖e‖ by default, so the closed form still erases the concept; rescale "none" keeps them as drawn', async () => {
    const residualAfter = async (sampler: RealEraOptions['sampler']): Promise<{ rescale: string; residual: number }> => {
      const model = attentionModel();
      const before = await snapshot(model);
      const result = await realEra(model, { concepts: [CONCEPT], stages: { lora: false }, sampler, seed: 3 });
      const after = await snapshot(model);
      const c = await promptRows(model, CONCEPT);
      const a = await promptRows(model, ANCHOR);
      let total = 0;
      for (const [key, wOrg] of before) total += residual(c, a, after.get(key)!, wOrg, 4) / residual(c, a, wOrg, wOrg, 4);
      const rescale = result.options.sampler.rescale;
      result.dispose();
      model.dispose();
      return { rescale, residual: total / before.size };
    };
    const rescaled = await residualAfter({ numNeighbours: 10, numBeyond: 10 });
    const drawn = await residualAfter({ numNeighbours: 10, numBeyond: 10, rescale: 'none' });
    console.info(`mean relative ‖W c − W_org c*‖ after the closed form: rescaled ${rescaled.residual.toFixed(3)}, as drawn ${drawn.residual.toFixed(3)}`);
    expect(rescaled.rescale).toBe('original-norm');
    expect(drawn.rescale).toBe('none');
    expect(rescaled.residual).toBeLessThan(drawn.residual);
  });

  it('LoRA stage: lowers the eq. 8 loss on fresh (z_t, t) and alternates eq. 8 / eq. 9 only with mining', async () => {
    const model = attentionModel();
    const z0 = latents();
    const result = await realEra(model, {
      concepts: [CONCEPT],
      stages: { mining: false, closedForm: false },
      lora: { steps: 40, learningRate: 0.05, batchSize: 2, anchorLatents: z0 },
    });
    expect(result.weights.size).toBe(0);
    expect(result.statistics.lora?.evenSteps).toHaveLength(40);
    expect(result.statistics.lora?.evenSteps.every((e) => !e)).toBe(true);
    const adapter = result.lora!.adapter!;
    // Held-out evaluation: mean over 24 draws of ‖ε_{θ+Δ}(z_t, t, E_c) − ε_θ(z_t, t, E_c*)‖².
    const rng = new Rng(99);
    const contexts = [model.textEncoder.encodePrompts([CONCEPT]), model.textEncoder.encodePrompts([ANCHOR])];
    let lossTrained = 0;
    let lossStart = 0;
    for (let i = 0; i < 24; i++) {
      const t = rng.int(1000);
      const a = model.scheduler.alphasCumprod[t]!;
      const noise = rng.normalTensor([1, 4, 4, 2]);
      const zt = tf.tidy(() => tf.add(tf.mul(tf.slice(z0, [i % 3], [1]), Math.sqrt(a)), tf.mul(noise, Math.sqrt(1 - a))) as tf.Tensor4D);
      adapter.scale = 0;
      const target = model.unet.predict(zt, t, contexts[1]!);
      const untrained = model.unet.predict(zt, t, contexts[0]!);
      adapter.scale = 1;
      const trained = model.unet.predict(zt, t, contexts[0]!);
      lossStart += tf.tidy(() => tf.mean(tf.squaredDifference(untrained, target)).dataSync()[0]!);
      lossTrained += tf.tidy(() => tf.mean(tf.squaredDifference(trained, target)).dataSync()[0]!);
      tf.dispose([noise, zt, target, untrained, trained]);
    }
    console.info(`eq. 8 loss ${(lossStart / 24).toFixed(4)} -> ${(lossTrained / 24).toFixed(4)}`);
    expect(lossTrained, `eq. 8 loss ${lossStart / 24} -> ${lossTrained / 24}`).toBeLessThan(0.8 * lossStart);
    tf.dispose(contexts);
    result.dispose();
    adapter.detach();
    z0.dispose();
    model.dispose();

    const mined = attentionModel();
    const z1 = latents();
    const full = await realEra(mined, { concepts: [CONCEPT], sampler: SAMPLER, lora: { steps: 4, anchorLatents: z1 } });
    expect(full.statistics.lora?.evenSteps).toEqual([false, true, false, true]);
    expect(full.statistics.lora?.resamples).toBe(2);
    expect(full.lora?.weights.size).toBe(4); // 2 sites × {to_k, to_v}
    full.dispose();
    full.lora?.adapter?.detach();
    z1.dispose();
    mined.dispose();
  });

  it('lora.microBatchSize bounds every UNet call (ε̂ included) and gives the same training as one batch', async () => {
    const run = async (microBatchSize: number): Promise<{ losses: number[]; largest: number }> => {
      const model = attentionModel();
      const z0 = latents();
      let largest = 0;
      const predict = model.unet.predict.bind(model.unet);
      model.unet.predict = (x: tf.Tensor4D, t: number, c: tf.Tensor3D): tf.Tensor4D => {
        largest = Math.max(largest, x.shape[0]);
        return predict(x, t, c);
      };
      const result = await realEra(model, { concepts: [CONCEPT], sampler: SAMPLER, stages: { closedForm: false }, lora: { steps: 4, batchSize: 4, microBatchSize, anchorLatents: z0 } });
      const losses = [...(result.statistics.lora?.losses ?? [])];
      result.dispose();
      result.lora?.adapter?.detach();
      z0.dispose();
      model.dispose();
      return { losses, largest };
    };
    const whole = await run(4);
    const split = await run(1);
    expect(whole.largest).toBe(4);
    expect(split.largest).toBe(1);
    expect(split.losses.length).toBe(4);
    split.losses.forEach((l, i) => expect(l).toBeCloseTo(whole.losses[i] as number, 5));
  });

  it('several concepts at once, generated anchor latents, N = 0 (ablation variant 3), no leaks', async () => {
    const model = attentionModel();
    const before = tf.memory().numTensors;
    const result = await realEra(model, {
      concepts: [CONCEPT, 'the dog'],
      anchorConcepts: ['an animal'],
      preserveConcepts: ['a car'],
      sampler: { numNeighbours: 2, numBeyond: 0 },
      lora: { steps: 4, anchorImages: 2, generationSteps: 2 },
    });
    expect(result.statistics.mining).toHaveLength(2);
    expect(result.statistics.closedForm?.beyondKeyCount).toBe(0);
    expect(result.statistics.lora?.losses).toHaveLength(4);
    expect(result.statistics.lora?.losses.every(Number.isFinite)).toBe(true);
    expect(result.options.anchorConcepts).toEqual(['an animal', 'an animal']);
    expect(result.options.preservePrompts).toEqual(['', 'a car']);
    result.dispose();
    result.lora?.adapter?.detach();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('M = 0: even steps still alternate, with one fresh (beyond) draw each; M = N = 0: every step is eq. 8', async () => {
    const run = async (numNeighbours: number, numBeyond: number) => {
      const model = attentionModel();
      const z0 = latents();
      const result = await realEra(model, { concepts: [CONCEPT], stages: { closedForm: false }, sampler: { numNeighbours, numBeyond }, lora: { steps: 4, anchorLatents: z0 } });
      const lora = result.statistics.lora!;
      z0.dispose();
      result.dispose();
      result.lora?.adapter?.detach();
      model.dispose();
      return lora;
    };
    const beyondOnly = await run(0, 2);
    expect(beyondOnly.evenSteps).toEqual([false, true, false, true]);
    expect(beyondOnly.resamples).toBe(2);
    const neither = await run(0, 0);
    expect(neither.evenSteps).toEqual([false, false, false, false]);
    expect(neither.resamples).toBe(0);
  });

  it('fuse: the trained update lands in the base weights and the adapter is gone', async () => {
    const model = attentionModel();
    const z0 = latents();
    const start = await snapshot(model);
    const result = await realEra(model, { concepts: [CONCEPT], stages: { mining: false, closedForm: false }, lora: { steps: 3, learningRate: 0.1, anchorLatents: z0, fuse: true } });
    expect(result.lora?.fused).toBe(true);
    expect(result.lora?.adapter).toBeUndefined();
    expect(model.unet.lora).toBeUndefined();
    const after = await snapshot(model);
    for (const [key, w] of start) {
      const { down, up } = result.lora!.weights.get(key)!;
      const expected = Array.from(w, (x, i) => {
        const o = Math.floor(i / D);
        const d = i % D;
        return x + up.data[o]! * down.data[d]!; // rank 1, α = r: W + B A
      });
      after.get(key)!.forEach((x, i) => expect(x).toBeCloseTo(expected[i]!, 5));
    }
    result.dispose();
    z0.dispose();
    model.dispose();
  });

  it('abort: rejects with AbortedError, restores the projections, detaches the adapter, leaks nothing', async () => {
    const model = attentionModel();
    const z0 = latents();
    const start = await snapshot(model);
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const options: RealEraOptions = {
      concepts: [CONCEPT],
      sampler: SAMPLER,
      lora: { steps: 50, anchorLatents: z0 },
      signal: controller.signal,
      onProgress: (event) => {
        if (event.stage === 'realera.lora' && event.step === 2) controller.abort();
      },
    };
    await expect(realEra(model, options)).rejects.toSatisfy((e) => AbortedError.isInstance(e));
    expect(model.unet.lora).toBeUndefined();
    expect(await snapshot(model)).toEqual(start);
    expect(tf.memory().numTensors).toBe(before);
    const aborted = new AbortController();
    aborted.abort();
    await expect(realEra(model, { concepts: [CONCEPT], signal: aborted.signal })).rejects.toSatisfy((e) => AbortedError.isInstance(e));
    z0.dispose();
    model.dispose();
  });

  it('ε̂ (OriginalModelView) is exactly the original model while θ\' and a non-zero LoRA are in place', async () => {
    const model = attentionModel();
    const z = latents();
    const context = model.textEncoder.encodePrompts([CONCEPT, CONCEPT, ANCHOR]);
    const expected = model.unet.predict(z, 321, context); // before any edit
    const original = readProjections(model.unet.sites, ['to_k', 'to_v']);
    const result = await realEra(model, { concepts: [CONCEPT], stages: { lora: false }, sampler: SAMPLER });
    const adapter = model.unet.attachLora({ rank: 1, targetModules: ['attn2.to_k', 'attn2.to_v'] });
    for (const layer of adapter.layers.values()) layer.up.assign(tf.onesLike(layer.up));
    const view = new OriginalModelView(model.unet, model.unet.sites, ['to_k', 'to_v'], { original, edited: result.weights }, adapter);
    const reference = view.predict(z, 321, context);
    expect(Array.from(await reference.data())).toEqual(Array.from(await expected.data()));
    expect(adapter.scale).toBe(1);
    const trained = model.unet.predict(z, 321, context);
    expect(Array.from(await trained.data())).not.toEqual(Array.from(await expected.data()));
    for (const [key, w] of result.weights) {
      const [path, projection] = [key.slice(0, -5), key.slice(-4) as ProjectionName];
      const site = model.unet.sites.find((x) => x.path === path)!;
      expect(Array.from(await site.weights[projection].data())).toEqual(Array.from(await w.data()));
    }
    tf.dispose([z, context, expected, reference, trained]);
    disposeWeights(original);
    result.dispose();
    adapter.detach();
    model.dispose();
  });

  it('validates options with typed errors', async () => {
    const model = attentionModel();
    const invalid = async (options: unknown, option: string): Promise<void> => {
      const error = await realEra(model, options as RealEraOptions).then(() => undefined, (e: unknown) => e);
      expect(InvalidOptionError.isInstance(error), String(error)).toBe(true);
      expect((error as InvalidOptionError).option).toBe(option);
    };
    await invalid({ concepts: [] }, 'concepts');
    await invalid({ concepts: ['a'], anchorConcepts: ['x', 'y'] }, 'anchorConcepts');
    await invalid({ concepts: ['a'], stages: { closedForm: false, lora: false } }, 'stages');
    await invalid({ concepts: ['a'], stages: { mining: 'yes' } }, 'stages.mining');
    await invalid({ concepts: ['a'], sampler: { seed: 3 } }, 'sampler.seed');
    await invalid({ concepts: ['a'], sampler: { cosLow: 0.9 } }, 'sampler.cosLow');
    await invalid({ concepts: ['a'], sampler: { numNeighbors: 3 } }, 'sampler.numNeighbors');
    await invalid({ concepts: ['a'], sampler: { numNeighbours: 2 ** 26 } }, 'sampler.numNeighbours'); // over the output cap, found while mining
    await invalid({ concepts: ['a'], lora: { steps: 0 } }, 'lora.steps');
    await invalid({ concepts: ['a'], lora: { learningRate: -1 } }, 'lora.learningRate');
    await invalid({ concepts: ['a'], closedForm: { preserveWeight: Number.NaN } }, 'closedForm.preserveWeight');
    await invalid({ concepts: ['a'], closedForm: { projections: ['to_q'] } }, 'closedForm.projections');
    await invalid({ concepts: ['a'], lora: { rnak: 2 } }, 'lora.rnak');
    await invalid({ concept: ['a'] }, 'concept');
    const unknownKey = await realEra(model, { concepts: ['a'], sampler: { numNeighbors: 3 } } as unknown as RealEraOptions).catch((e: unknown) => e);
    expect(String(unknownKey)).toMatch(/Unknown option `sampler\.numNeighbors` for realEra\(\); known options: cosLow, /);
    expect(String(unknownKey)).not.toMatch(/\brng\b|\bseed\b/); // realEra() takes the top-level seed only
    const wrong = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
    await expect(realEra(model, { concepts: ['a'], lora: { anchorLatents: wrong } })).rejects.toSatisfy((e) => ShapeMismatchError.isInstance(e));
    wrong.dispose();
    // LoRA targets the UNet does not have (or an adapter already attached) are found before any stage runs
    const stages: string[] = [];
    const before = tf.memory().numTensors;
    const noTarget = await realEra(model, { concepts: ['a'], lora: { targetModules: ['attn2.to_x'] }, onProgress: (e) => stages.push(e.stage) }).catch((e: unknown) => e);
    expect(InvalidOptionError.isInstance(noTarget) && noTarget.option).toBe('lora.targetModules');
    expect(stages).toEqual([]);
    const attached = model.unet.attachLora({ rank: 1, targetModules: ['attn2.to_k'] });
    const second = await realEra(model, { concepts: ['a'] }).catch((e: unknown) => e);
    expect(InvalidOptionError.isInstance(second) && second.option).toMatch(/^lora/);
    attached.detach();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
