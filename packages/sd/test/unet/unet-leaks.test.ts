/**
 * No leaks: every public UNet/LoRA entry point leaves `tf.memory().numTensors` unchanged apart from what it returns,
 * and dispose() frees everything the model created.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '@erase/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UNet2DConditionModel } from '../../src/unet/unet-2d-condition';
import { BACKENDS, LORA_DIR, UNET_DIR, loadTinyUnet, readCase, readDiffusersLora, useBackend } from './helpers';

describe.each(BACKENDS)('UNet leaks (%s)', (backend) => {
  let c: ReturnType<typeof readCase>;
  beforeAll(async () => {
    await ensureGradients();
    await useBackend(backend);
    c = readCase(`${UNET_DIR}/case_t10.safetensors`);
  });
  afterAll(() => tf.dispose([c.latents, c.timesteps, c.context]));

  it('fromWeights + dispose returns to the starting tensor count (304 variables in between)', () => {
    const start = tf.memory().numTensors;
    const unet = loadTinyUnet();
    expect(tf.memory().numTensors).toBe(start + 304);
    unet.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('predict (number and tensor timesteps) adds exactly its output; predictWithIntermediates its outputs', async () => {
    const unet = loadTinyUnet();
    const start = tf.memory().numTensors;
    for (let i = 0; i < (backend === 'wasm' ? 2 : 1); i++) {
      const out = unet.predict(c.latents, i === 0 ? 10 : c.timesteps, c.context);
      expect(tf.memory().numTensors).toBe(start + 1);
      out.dispose();
      expect(tf.memory().numTensors).toBe(start);
    }
    if (backend === 'wasm') {
      const { out, intermediates } = unet.predictWithIntermediates(c.latents, c.timesteps, c.context);
      expect(tf.memory().numTensors).toBe(start + 1 + intermediates.size);
      tf.dispose([out, ...intermediates.values()]);
      expect(tf.memory().numTensors).toBe(start);
    }
    expect(c.latents.isDisposed || c.context.isDisposed || c.timesteps.isDisposed).toBe(false);
    unet.dispose();
  });

  it('cross-attention sites, LoRA attach/load/fuse/detach/export and a gradient step do not leak', () => {
    const unet = loadTinyUnet();
    const start = tf.memory().numTensors;
    for (const site of unet.crossAttentionSites()) {
      const k = site.readProjection('to_k');
      site.writeProjection('to_k', k);
      k.dispose();
    }
    expect(tf.memory().numTensors).toBe(start);

    const fresh = unet.attachLora({ rank: 2, targetModules: ['to_q', 'to_out.0'], seed: 1 });
    expect(tf.memory().numTensors).toBe(start + fresh.variables.length);
    const { value, grads } = tf.variableGrads(() => tf.sum(unet.predict(c.latents, 10, c.context)), [...fresh.variables]);
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(start + fresh.variables.length);
    fresh.detach();
    expect(tf.memory().numTensors).toBe(start);

    const loaded = unet.loadLora(readDiffusersLora(`${LORA_DIR}/pytorch_lora_weights.safetensors`));
    unet.exportLora();
    unet.exportWeights();
    expect(tf.memory().numTensors).toBe(start + 96);
    loaded.fuse();
    expect(tf.memory().numTensors).toBe(start);
    unet.dispose();
  });
});
