/**
 * Config parsing (diffusers defaults and quirks, unsupported keys), weight-key checking, loading/exporting, input
 * validation and LoRA/site errors.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { FileFormatError, InvalidOptionError, ShapeMismatchError, UnsupportedError, WeightKeysError } from '@erase/core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { HostTensor } from '../../src/io/safetensors';
import { parseUNetConfig } from '../../src/unet/config';
import { planUNet } from '../../src/unet/layout';
import { UNet2DConditionModel } from '../../src/unet/unet-2d-condition';
import { writeRaw } from '../io/helpers';
import { UNET_DIR, loadTinyUnet, tinyConfig, tinyWeights, useBackend } from './helpers';

const countParams = (shapes: Map<string, number[]>): number => [...shapes.values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('parseUNetConfig', () => {
  it('resolves the fixture config: attention_head_dim 8 means 8 heads per block', () => {
    const config = tinyConfig();
    expect(config.numAttentionHeads).toEqual([8, 8]);
    expect(config.crossAttentionDim).toEqual([32, 32]);
    expect(config.layersPerBlock).toEqual([2, 2]);
    expect(config.timeEmbedDim).toBe(128);
    const plan = planUNet(config);
    expect(plan.mid?.attentions[0]).toMatchObject({ channels: 64, heads: 8, headDim: 8, linearProjection: false });
    expect(plan.down[0]?.attentions[0]).toMatchObject({ channels: 32, heads: 8, headDim: 4 });
  });

  it('SD 1.5 defaults give the 686 keys and 859,520,964 parameters of the real UNet', () => {
    const shapes = UNet2DConditionModel.expectedWeightShapes(parseUNetConfig({ cross_attention_dim: 768 }));
    expect(shapes.size).toBe(686);
    expect(countParams(shapes)).toBe(859520964);
  });

  it('SD 2.x: attention_head_dim [5, 10, 20, 20] → 5/10/20/20 heads of 64 channels; 865,910,724 parameters', () => {
    const config = parseUNetConfig({
      attention_head_dim: [5, 10, 20, 20],
      cross_attention_dim: 1024,
      use_linear_projection: true,
      upcast_attention: true,
      sample_size: 96,
    });
    const plan = planUNet(config);
    const heads = [...plan.down, ...plan.up, plan.mid].flatMap((b) => b?.attentions ?? []).map((t) => [t.heads, t.headDim]);
    expect(new Set(heads.map(([, d]) => d))).toEqual(new Set([64]));
    expect(plan.down.map((b) => b.attentions[0]?.heads)).toEqual([5, 10, 20, undefined]);
    expect(plan.up.map((b) => b.attentions[0]?.heads)).toEqual([undefined, 20, 10, 5]);
    const shapes = UNet2DConditionModel.expectedWeightShapes(config);
    expect(shapes.get('down_blocks.0.attentions.0.proj_in.weight')).toEqual([320, 320]);
    expect(shapes.get('down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight')).toEqual([320, 1024]);
    expect(shapes.size).toBe(686);
    expect(countParams(shapes)).toBe(865910724);
  });

  it.each([
    ['addition_embed_type', 'text_time'],
    ['class_embed_type', 'timestep'],
    ['num_class_embeds', 10],
    ['num_attention_heads', 8],
    ['encoder_hid_dim', 768],
    ['resnet_time_scale_shift', 'scale_shift'],
    ['time_embedding_type', 'fourier'],
    ['dual_cross_attention', true],
    ['only_cross_attention', true],
    ['mid_block_type', 'UNetMidBlock2DSimpleCrossAttn'],
    ['down_block_types', ['AttnDownBlock2D', 'DownBlock2D']],
    ['act_fn', 'gelu'],
  ])('%s = %j → UnsupportedError naming the key', (key, value) => {
    const error = thrown(() => parseUNetConfig({ block_out_channels: [32, 64], down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'], [key]: value }));
    expect(UnsupportedError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain(key);
  });

  it('malformed values → InvalidOptionError naming the option', () => {
    const count = thrown(() => parseUNetConfig({ block_out_channels: [32, 64, 64] }));
    expect(InvalidOptionError.isInstance(count) && count.option).toBe('block_out_channels');
    const heads = thrown(() => parseUNetConfig({ block_out_channels: [32, 64], attention_head_dim: 3, down_block_types: ['DownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'UpBlock2D'] }));
    expect(InvalidOptionError.isInstance(heads) && heads.option).toBe('attention_head_dim');
    const list = thrown(() => parseUNetConfig({ layers_per_block: [2, 2] }));
    expect(InvalidOptionError.isInstance(list) && list.option).toBe('layers_per_block');
  });

  it('wrong types and absurd counts → InvalidOptionError, before any key plan is built', () => {
    const option = (raw: Record<string, unknown>): unknown => {
      const error = thrown(() => parseUNetConfig(raw));
      return InvalidOptionError.isInstance(error) ? error.option : error;
    };
    expect(option({ layers_per_block: 1e9 })).toBe('layers_per_block'); // a plan of 4e9 resnets would exhaust the heap
    expect(option({ transformer_layers_per_block: [1, 1, 1, 1e9] })).toBe('transformer_layers_per_block');
    expect(option({ sample_size: true })).toBe('sample_size');
    expect(option({ sample_size: '64' })).toBe('sample_size');
    expect(option({ sample_size: [64, 'x'] })).toBe('sample_size');
    expect(option({ norm_eps: 0 })).toBe('norm_eps');
    expect(option({ norm_eps: -1 })).toBe('norm_eps');
    expect(parseUNetConfig({ sample_size: [96, 96], transformer_layers_per_block: 10 }).sampleSize).toBe(96);
  });
});

describe('weights: keys, loading, export', () => {
  beforeAll(async () => useBackend('wasm'));

  it('a non-float weight → FileFormatError naming the key and the file, nothing left allocated', () => {
    const weights = new Map(tinyWeights());
    const key = 'conv_in.bias';
    const bias = weights.get(key) as HostTensor;
    weights.set(key, { dtype: 'int32', fileDtype: 'I32', shape: bias.shape, data: new Int32Array(bias.data.length) });
    const before = tf.memory().numTensors;
    const error = thrown(() => UNet2DConditionModel.fromWeights(tinyConfig(), weights, { source: 'unet/diffusion_pytorch_model.safetensors' }));
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('conv_in.bias');
    expect((error as Error).message).toContain('unet/diffusion_pytorch_model.safetensors');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('one WeightKeysError lists a dropped, an added and a reshaped key', () => {
    const weights = new Map(tinyWeights());
    const dropped = 'down_blocks.0.resnets.1.conv2.bias';
    const added = 'down_blocks.0.resnets.1.extra.weight';
    const reshaped = 'mid_block.attentions.0.transformer_blocks.0.attn2.to_v.weight';
    weights.delete(dropped);
    weights.set(added, { dtype: 'float32', fileDtype: 'F32', shape: [2], data: new Float32Array(2) });
    const v = weights.get(reshaped) as HostTensor;
    weights.set(reshaped, { ...v, shape: [32, 64] });
    const start = tf.memory().numTensors;
    const error = thrown(() => UNet2DConditionModel.fromWeights(tinyConfig(), weights, { source: 'edited.safetensors' }));
    expect(WeightKeysError.isInstance(error)).toBe(true);
    const e = error as WeightKeysError;
    expect(e.missing).toEqual([dropped]);
    expect(e.unexpected).toEqual([added]);
    expect(e.wrongShape).toEqual([{ key: reshaped, expected: [64, 32], received: [32, 64] }]);
    expect(e.message).toContain('edited.safetensors');
    expect(tf.memory().numTensors).toBe(start);
  });

  it('fromPretrained reads the fixture folder; exportWeights gives back the file bit for bit (1,106,212 parameters)', async () => {
    const unet = await UNet2DConditionModel.fromPretrained(UNET_DIR);
    expect(countParams(unet.expectedWeightShapes())).toBe(1106212);
    const exported = unet.exportWeights();
    const file = tinyWeights();
    expect(exported.size).toBe(file.size);
    for (const [key, t] of file) {
      const e = exported.get(key) as HostTensor;
      expect(e.shape, key).toEqual(t.shape);
      expect(Buffer.from(e.data.buffer).equals(Buffer.from(t.data.buffer)), key).toBe(true);
    }
    const params = unet.parameters();
    expect(params.get('conv_in.weight')?.shape).toEqual([3, 3, 4, 32]);
    expect(params.get('time_embedding.linear_1.weight')?.shape).toEqual([32, 128]);
    expect([...params.values()].every((p) => !p.trainable)).toBe(true);
    unet.dispose();
  });

  it('fromPretrained checks config.json before decoding any weight', async () => {
    // the weights cannot be decoded (an I64 beyond int32: UnsupportedError); a bad config must be reported first
    const dir = mkdtempSync(join(tmpdir(), 'erase-unet-config-first-'));
    try {
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ layers_per_block: 1e9 }));
      const data = new Uint8Array(8);
      new DataView(data.buffer).setBigInt64(0, 2n ** 40n, true);
      writeRaw(join(dir, 'diffusion_pytorch_model.safetensors'), { 'conv_in.weight': { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, data);
      const error = await UNet2DConditionModel.fromPretrained(dir).catch((e: unknown) => e);
      expect(InvalidOptionError.isInstance(error) && error.option).toBe('layers_per_block');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fromPretrained on a missing folder, or one without weights → FileFormatError naming the folder', async () => {
    const missing = await UNet2DConditionModel.fromPretrained('/nonexistent-unet-dir').catch((e: unknown) => e);
    expect(FileFormatError.isInstance(missing)).toBe(true);
    expect((missing as FileFormatError).file).toBe('/nonexistent-unet-dir');
    const dir = mkdtempSync(join(tmpdir(), 'erase-unet-'));
    writeFileSync(join(dir, 'config.json'), '{}');
    const empty = await UNet2DConditionModel.fromPretrained(dir).catch((e: unknown) => e);
    expect(FileFormatError.isInstance(empty)).toBe(true);
    expect((empty as FileFormatError).file).toBe(dir);
    expect((empty as Error).message).toContain('diffusion_pytorch_model.safetensors');
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('input validation and editing errors', () => {
  beforeAll(async () => useBackend('wasm'));

  it('predict rejects inputs that do not fit, before running any kernel', () => {
    const unet = loadTinyUnet();
    const z = tf.zeros([2, 16, 16, 4]) as tf.Tensor4D;
    const ctx = tf.zeros([2, 77, 32]) as tf.Tensor3D;
    const start = tf.memory().numTensors;
    const cases: [tf.Tensor, number | tf.Tensor, tf.Tensor][] = [
      [tf.zeros([2, 16, 16, 3]), 10, ctx],
      [z, 10, tf.zeros([1, 77, 32])],
      [z, 10, tf.zeros([2, 77, 16])],
      [z, tf.zeros([3]), ctx],
    ];
    for (const [a, t, c] of cases) {
      const error = thrown(() => unet.predict(a as tf.Tensor4D, t as number, c as tf.Tensor3D));
      expect(ShapeMismatchError.isInstance(error)).toBe(true);
    }
    expect(InvalidOptionError.isInstance(thrown(() => unet.predict(z, Number.NaN, ctx)))).toBe(true);
    expect(tf.memory().numTensors).toBe(start + 4);
    tf.dispose(cases.flatMap(([a, t, c]) => [a, t, c].filter((x): x is tf.Tensor => typeof x !== 'number')));
    tf.dispose([z, ctx]);
    unet.dispose();
  });

  it('LoRA: unknown targets, conv targets, a second adapter and bad factor shapes are reported', () => {
    const unet = loadTinyUnet();
    const none = thrown(() => unet.attachLora({ rank: 1, targetModules: ['attn3.to_k'] }));
    expect(InvalidOptionError.isInstance(none) && none.option).toBe('targetModules');
    const conv = thrown(() => unet.attachLora({ rank: 1, targetModules: ['resnets.0.conv1'] }));
    expect(UnsupportedError.isInstance(conv)).toBe(true);
    expect(InvalidOptionError.isInstance(thrown(() => unet.attachLora({ rank: 0, targetModules: ['to_k'] })))).toBe(true);
    const adapter = unet.attachLora({ rank: 1, targetModules: ['attn2.to_k'] });
    expect(adapter.config).toMatchObject({ rank: 1, alpha: 1 });
    const second = thrown(() => unet.attachLora({ rank: 1, targetModules: ['attn2.to_v'] }));
    expect(InvalidOptionError.isInstance(second)).toBe(true);
    adapter.detach();
    const f = (shape: number[]): HostTensor => ({ dtype: 'float32', fileDtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
    const bad = new Map([
      ['mid_block.attentions.0.transformer_blocks.0.attn2.to_k', { down: f([2, 16]), up: f([64, 2]) }],
      ['mid_block.attentions.0.transformer_blocks.0.attn9.to_k', { down: f([2, 32]), up: f([64, 2]) }],
    ]);
    const error = thrown(() => unet.loadLora(bad, { source: 'bad-lora.safetensors' }));
    expect(WeightKeysError.isInstance(error)).toBe(true);
    expect((error as WeightKeysError).unexpected).toEqual(['mid_block.attentions.0.transformer_blocks.0.attn9.to_k']);
    expect((error as WeightKeysError).wrongShape.map((w) => w.key)).toEqual(['mid_block.attentions.0.transformer_blocks.0.attn2.to_k.lora.down']);
    expect(unet.lora).toBeUndefined();
    // factors whose data does not fill their shape: refused before any variable is made (the first layer is fine)
    const before = tf.memory().numTensors;
    const short = new Map([
      ['mid_block.attentions.0.transformer_blocks.0.attn2.to_k', { down: f([2, 32]), up: f([64, 2]) }],
      ['mid_block.attentions.0.transformer_blocks.0.attn2.to_v', { down: { ...f([2, 32]), data: new Float32Array(5) }, up: f([64, 2]) }],
    ]);
    const shortError = thrown(() => unet.loadLora(short));
    expect(InvalidOptionError.isInstance(shortError) && shortError.option).toBe('mid_block.attentions.0.transformer_blocks.0.attn2.to_v LoRA down');
    expect(tf.memory().numTensors).toBe(before);
    expect(unet.lora).toBeUndefined();
    unet.dispose();
  });

  it('writeProjection checks the shape and changes the model; readProjection returns what was written', async () => {
    const unet = loadTinyUnet();
    const site = unet.crossAttentionSites()[5];
    expect(site?.path).toBe('mid_block.attentions.0.transformer_blocks.0.attn2');
    const wrong = tf.zeros([32, 64]) as tf.Tensor2D;
    expect(ShapeMismatchError.isInstance(thrown(() => site?.writeProjection('to_v', wrong)))).toBe(true);
    const z = tf.randomNormal([1, 16, 16, 4]) as tf.Tensor4D;
    const ctx = tf.randomNormal([1, 5, 32]) as tf.Tensor3D;
    const before = unet.predict(z, 500, ctx);
    const written = tf.mul(tf.ones([64, 32]), 0.01) as tf.Tensor2D;
    site?.writeProjection('to_v', written);
    const read = site?.readProjection('to_v') as tf.Tensor2D;
    expect(Array.from(await read.data())).toEqual(Array.from(await written.data()));
    const after = unet.predict(z, 500, ctx);
    const change = tf.max(tf.abs(tf.sub(after, before))).dataSync()[0] as number;
    expect(change).toBeGreaterThan(1e-3);
    tf.dispose([wrong, z, ctx, before, written, read, after]);
    unet.dispose();
  });
});
