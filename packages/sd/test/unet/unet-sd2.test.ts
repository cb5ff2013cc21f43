/**
 * SD 2.x-style UNet: linear proj_in/proj_out, per-block `attention_head_dim` lists, a wider context, upcast_attention.
 * Keys are checked against names written down by hand from diffusers' module tree; shapes flow through a seeded random
 * model (also at a latent size that is not a multiple of 2^#upsamplers); and the linear-projection path is tied to the
 * diffusers fixture by converting its 1×1-conv projections to Linear weights (the same function).
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJsonConfig } from '../../src/io/config';
import type { HostTensor } from '../../src/io/safetensors';
import { parseUNetConfig } from '../../src/unet/config';
import { UNet2DConditionModel } from '../../src/unet/unet-2d-condition';
import { compareArrays } from '../parity';
import { UNET_DIR, readCase, tinyWeights, useBackend } from './helpers';
import { randomWeights } from './random-weights';

const sd2Tiny = parseUNetConfig({
  _class_name: 'UNet2DConditionModel',
  sample_size: 8,
  block_out_channels: [32, 64, 64],
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  layers_per_block: 1,
  attention_head_dim: [2, 4, 4],
  num_attention_heads: null,
  cross_attention_dim: 48,
  use_linear_projection: true,
  upcast_attention: true,
  norm_num_groups: 8,
});

/** `down_blocks.1.attentions.0` of the config above, written down from diffusers' Transformer2DModel / BasicTransformerBlock. */
const HAND_WRITTEN: Record<string, number[]> = {
  'norm.weight': [64], 'norm.bias': [64],
  'proj_in.weight': [64, 64], 'proj_in.bias': [64],
  'transformer_blocks.0.norm1.weight': [64], 'transformer_blocks.0.norm1.bias': [64],
  'transformer_blocks.0.attn1.to_q.weight': [64, 64],
  'transformer_blocks.0.attn1.to_k.weight': [64, 64],
  'transformer_blocks.0.attn1.to_v.weight': [64, 64],
  'transformer_blocks.0.attn1.to_out.0.weight': [64, 64], 'transformer_blocks.0.attn1.to_out.0.bias': [64],
  'transformer_blocks.0.norm2.weight': [64], 'transformer_blocks.0.norm2.bias': [64],
  'transformer_blocks.0.attn2.to_q.weight': [64, 64],
  'transformer_blocks.0.attn2.to_k.weight': [64, 48],
  'transformer_blocks.0.attn2.to_v.weight': [64, 48],
  'transformer_blocks.0.attn2.to_out.0.weight': [64, 64], 'transformer_blocks.0.attn2.to_out.0.bias': [64],
  'transformer_blocks.0.norm3.weight': [64], 'transformer_blocks.0.norm3.bias': [64],
  'transformer_blocks.0.ff.net.0.proj.weight': [512, 64], 'transformer_blocks.0.ff.net.0.proj.bias': [512],
  'transformer_blocks.0.ff.net.2.weight': [64, 256], 'transformer_blocks.0.ff.net.2.bias': [64],
  'proj_out.weight': [64, 64], 'proj_out.bias': [64],
};

describe('SD 2.x-style tiny UNet (wasm)', () => {
  let unet: UNet2DConditionModel;
  beforeAll(async () => {
    await useBackend('wasm');
    unet = UNet2DConditionModel.fromWeights(sd2Tiny, randomWeights(UNet2DConditionModel.expectedWeightShapes(sd2Tiny), 2), { source: 'sd2-tiny' });
  });
  afterAll(() => unet.dispose());

  it('names one transformer block exactly as diffusers does', () => {
    const prefix = 'down_blocks.1.attentions.0.';
    const actual = Object.fromEntries([...unet.expectedWeightShapes()].filter(([k]) => k.startsWith(prefix)).map(([k, s]) => [k.slice(prefix.length), s]));
    expect(actual).toEqual(HAND_WRITTEN);
    expect(unet.parameters().get(`${prefix}proj_in.weight`)?.shape).toEqual([64, 64]);
    expect(unet.expectedWeightShapes().has('down_blocks.2.attentions.0.norm.weight')).toBe(false);
    // up block 1: resnet 0 takes cat(h 64, skip 64); resnet 1 takes cat(h 64, skip 32 from down block 0's downsampler).
    expect(unet.expectedWeightShapes().get('up_blocks.1.resnets.0.conv1.weight')).toEqual([64, 128, 3, 3]);
    expect(unet.expectedWeightShapes().get('up_blocks.1.resnets.1.conv1.weight')).toEqual([64, 96, 3, 3]);
    expect(unet.expectedWeightShapes().get('up_blocks.1.resnets.1.conv_shortcut.weight')).toEqual([64, 96, 1, 1]);
  });

  it('cross-attention sites carry the per-block head counts (channels / heads = 16)', () => {
    const sites = unet.crossAttentionSites();
    expect(sites.map((s) => [s.path, s.heads, s.innerDim, s.contextDim])).toEqual([
      ['down_blocks.0.attentions.0.transformer_blocks.0.attn2', 2, 32, 48],
      ['down_blocks.1.attentions.0.transformer_blocks.0.attn2', 4, 64, 48],
      ['up_blocks.1.attentions.0.transformer_blocks.0.attn2', 4, 64, 48],
      ['up_blocks.1.attentions.1.transformer_blocks.0.attn2', 4, 64, 48],
      ['up_blocks.2.attentions.0.transformer_blocks.0.attn2', 2, 32, 48],
      ['up_blocks.2.attentions.1.transformer_blocks.0.attn2', 2, 32, 48],
      ['mid_block.attentions.0.transformer_blocks.0.attn2', 4, 64, 48],
    ]);
  });

  it.each<[[number, number, number, number]]>([
    [[2, 8, 8, 4]],
    [[1, 10, 10, 4]],
    [[1, 6, 12, 4]],
  ])('latents %j flow through to the same shape, finite (sizes off the 2^k grid resize to the skips)', async (shape) => {
    const start = tf.memory().numTensors;
    const z = tf.randomNormal(shape) as tf.Tensor4D;
    const ctx = tf.randomNormal([shape[0] as number, 7, 48]) as tf.Tensor3D;
    const out = unet.predict(z, 321.5, ctx);
    expect(out.shape).toEqual(shape);
    const values = await out.data();
    expect(values.every(Number.isFinite)).toBe(true);
    expect(Math.max(...Array.from(values, Math.abs))).toBeGreaterThan(1e-3);
    tf.dispose([z, ctx, out]);
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('linear projections compute what 1×1-conv projections do (wasm)', () => {
  beforeAll(async () => useBackend('wasm'));

  it('the fixture with proj_in/proj_out as Linear weights and use_linear_projection matches case t10', async () => {
    const raw = { ...readJsonConfig(`${UNET_DIR}/config.json`), use_linear_projection: true };
    const weights = new Map<string, HostTensor>();
    for (const [key, t] of tinyWeights()) {
      const isProj = /\.proj_(in|out)\.weight$/.test(key);
      weights.set(key, isProj ? { ...t, shape: t.shape.slice(0, 2) } : t);
    }
    const unet = UNet2DConditionModel.fromWeights(parseUNetConfig(raw), weights);
    const c = readCase(`${UNET_DIR}/case_t10.safetensors`);
    const out = unet.predict(c.latents, c.timesteps, c.context);
    const expected = c.expected.get('out') as { data: Float32Array; shape: number[] };
    const cmp = compareArrays('linear-projection t10', await out.data(), expected.data, expected.shape, 1e-4);
    console.log(cmp.report);
    expect(cmp.maxAbsDiff, cmp.report).toBeLessThanOrEqual(1e-4);
    tf.dispose([out, c.latents, c.timesteps, c.context]);
    unet.dispose();
  });
});
