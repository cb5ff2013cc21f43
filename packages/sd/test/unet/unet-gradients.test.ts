/**
 * Gradients through the UNet w.r.t. LoRA factors, on cpu and wasm (wasm lacks Conv2DBackpropFilter, but LoRA needs only
 * activation gradients through the convs). Checked against central finite differences and across backends.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients, Rng } from '@erase/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UNet2DConditionModel } from '../../src/unet/unet-2d-condition';
import { BACKENDS, LORA_DIR, loadTinyUnet, readCase, readDiffusersLora, useBackend } from './helpers';

const PROBE = 'mid_block.attentions.0.transformer_blocks.0.attn2.to_k';
const gradsByBackend = new Map<string, Map<string, Float32Array>>();

/** loss = Σ ε(z, t, c) ⊙ R with a fixed random R (so every output element matters). */
function lossFn(unet: UNet2DConditionModel, c: ReturnType<typeof readCase>, weights: tf.Tensor): () => tf.Scalar {
  return () => tf.sum(tf.mul(unet.predict(c.latents, c.timesteps, c.context), weights));
}

describe.each(BACKENDS)('UNet gradients w.r.t. LoRA factors (%s)', (backend) => {
  let unet: UNet2DConditionModel;
  let c: ReturnType<typeof readCase>;
  let weights: tf.Tensor;

  beforeAll(async () => {
    await ensureGradients();
    await useBackend(backend);
    unet = loadTinyUnet();
    c = readCase(`${LORA_DIR}/case_t10_lora.safetensors`);
    weights = new Rng(7).normalTensor([2, 16, 16, 4]);
  });
  afterAll(() => {
    unet.dispose();
    tf.dispose([c.latents, c.timesteps, c.context, weights]);
  });

  it('loaded factors (B ≠ 0): finite non-zero gradients that match finite differences', async () => {
    const adapter = unet.loadLora(readDiffusersLora(`${LORA_DIR}/pytorch_lora_weights.safetensors`));
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(lossFn(unet, c, weights), [...adapter.variables]);
    const names = [...adapter.layers].flatMap(([path, l]) => [[`${path}.down`, l.down], [`${path}.up`, l.up]] as const);
    const host = new Map<string, Float32Array>();
    for (const [name, v] of names) host.set(name, (await (grads[v.name] as tf.Tensor).data()) as Float32Array);
    expect(host.size).toBe(96); // 48 attention projections × {down, up}
    gradsByBackend.set(backend, host);
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);

    for (const [name, g] of host) {
      expect(g.every(Number.isFinite), name).toBe(true);
      expect(g.some((x) => x !== 0), `${name} has a non-zero gradient`).toBe(true);
    }

    // Central differences on two entries of the probe's up (B) and down (A) factors — on wasm only (4 extra forward
    // passes); the cpu gradients are tied to wasm's by the next test.
    if (backend !== 'wasm') {
      adapter.detach();
      return;
    }
    const layer = adapter.layers.get(PROBE) as { down: tf.Variable; up: tf.Variable };
    for (const [label, v] of [['up', layer.up], ['down', layer.down]] as const) {
      const g = host.get(`${PROBE}.${label}`) as Float32Array;
      const index = g.reduce((best, x, i) => (Math.abs(x) > Math.abs(g[best] as number) ? i : best), 0);
      const base = (await v.data()) as Float32Array;
      const h = 1e-2;
      const at = (delta: number): number => {
        const shifted = Float32Array.from(base);
        shifted[index] = (base[index] as number) + delta;
        v.assign(tf.tensor(shifted, v.shape));
        return tf.tidy(() => lossFn(unet, c, weights)().dataSync()[0] as number);
      };
      const fd = (at(h) - at(-h)) / (2 * h);
      v.assign(tf.tensor(base, v.shape));
      const analytic = g[index] as number;
      console.log(`${backend} ${PROBE}.${label}[${index}]: analytic ${analytic.toPrecision(6)} finite-diff ${fd.toPrecision(6)}`);
      expect(Math.abs(analytic - fd)).toBeLessThanOrEqual(2e-2 * Math.abs(fd) + 1e-3);
    }
    adapter.detach();
  });

  // cpu is the reference: the comparison runs for the other backends (comparing cpu with itself would prove nothing)
  it.runIf(backend !== 'cpu')('gradients agree with cpu (relative 1e-3)', () => {
    const cpu = gradsByBackend.get('cpu');
    const here = gradsByBackend.get(backend);
    expect(cpu && here).toBeTruthy();
    let worst = 0;
    for (const [name, g] of here as Map<string, Float32Array>) {
      const ref = (cpu as Map<string, Float32Array>).get(name) as Float32Array;
      const scale = Math.max(...Array.from(ref, Math.abs));
      for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs((g[i] as number) - (ref[i] as number)) / scale);
    }
    console.log(`${backend} vs cpu: max relative gradient difference ${worst.toExponential(3)}`);
    expect(worst).toBeLessThanOrEqual(1e-3);
  });

  it('fresh factors (B = 0): ∂L/∂B ≠ 0, ∂L/∂A = 0, and one SGD step lowers the loss', async () => {
    const adapter = unet.attachLora({ rank: 1, targetModules: ['attn2.to_k', 'attn2.to_v'], seed: 3 });
    expect(adapter.layers.size).toBe(12);
    const { value, grads } = tf.variableGrads(lossFn(unet, c, weights), [...adapter.variables]);
    for (const [path, l] of adapter.layers) {
      const gUp = (await (grads[l.up.name] as tf.Tensor).data()) as Float32Array;
      const gDown = (await (grads[l.down.name] as tf.Tensor).data()) as Float32Array;
      expect(gUp.some((x) => x !== 0), `${path}.up`).toBe(true);
      expect(gDown.every((x) => x === 0), `${path}.down`).toBe(true);
    }
    const loss0 = (await value.data())[0] as number;
    for (const l of adapter.layers.values()) l.up.assign(tf.tidy(() => tf.sub(l.up, tf.mul(grads[l.up.name] as tf.Tensor, 1e-3))));
    const loss1 = tf.tidy(() => lossFn(unet, c, weights)().dataSync()[0] as number);
    tf.dispose([value, ...Object.values(grads)]);
    expect(loss1).toBeLessThan(loss0);
    adapter.detach();
  });
});
