// AutoencoderKL beyond the fixture forward: a second config, legacy attention names, weight keys, config and input
// validation, the posterior, export round trip, gradients, leaks.
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidOptionError, Rng, ShapeMismatchError, UnsupportedError, WeightKeysError, ensureGradients } from '@erase/core';
import { readJsonConfig } from '../../src/io/config';
import { readSafetensors, type HostTensor } from '../../src/io/safetensors';
import { AutoencoderKL, DiagonalGaussian, autoencoderKLWeightShapes, parseAutoencoderKLConfig } from '../../src/vae/index';
import { fixture } from '../parity';

const dir = fixture('parity', 'vae-tiny');
const fixtureConfig = readJsonConfig(`${dir}/config.json`);
const fixtureWeights = readSafetensors(`${dir}/diffusion_pytorch_model.safetensors`).tensors;

/** Three levels (factor 4), two resnets per encoder level, 4 groups, 3 latent and 2 output channels. */
const secondConfig = {
  in_channels: 3,
  out_channels: 2,
  block_out_channels: [8, 16, 16],
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
  layers_per_block: 2,
  latent_channels: 3,
  norm_num_groups: 4,
  act_fn: 'silu',
  scaling_factor: 0.13025,
};

function randomWeights(config: Record<string, unknown>, seed: number): Map<string, HostTensor> {
  const rng = new Rng(seed);
  const out = new Map<string, HostTensor>();
  for (const [key, shape] of autoencoderKLWeightShapes(parseAutoencoderKLConfig(config))) {
    const size = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length > 1 ? size / (shape[0] as number) : 1;
    const isNormWeight = /norm\d?(_out)?\.weight$|group_norm\.weight$/.test(key);
    const data = Float32Array.from(rng.normalArray(size), (v) => (isNormWeight ? 1 + 0.1 * v : shape.length > 1 ? v / Math.sqrt(fanIn) : 0.1 * v));
    out.set(key, { dtype: 'float32', fileDtype: 'F32', shape, data });
  }
  return out;
}

/** The value of a scalar tensor, which is then disposed. */
function scalarValue(t: tf.Tensor): number {
  const value = t.dataSync()[0] as number;
  t.dispose();
  return value;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('AutoencoderKL at a second config (3 levels, 2 resnets per level, 4 groups)', () => {
  it('encodes and decodes with the expected shapes, per sample independently of the batch', async () => {
    const vae = AutoencoderKL.fromWeights(secondConfig, randomWeights(secondConfig, 5));
    expect(vae.downsampleFactor).toBe(4);
    expect(vae.scalingFactor).toBe(0.13025);
    const images = new Rng(6).uniformTensor([2, 8, 12, 3], -1, 1) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const dist = vae.encode(images);
    expect(dist.mean.shape).toEqual([2, 2, 3, 3]);
    const decoded = vae.decode(dist.mean);
    expect(decoded.shape).toEqual([2, 8, 12, 2]);
    expect(tf.memory().numTensors).toBe(before + 4);
    // GroupNorm and attention act per sample: row 1 of the batch equals row 1 encoded alone.
    const second = tf.slice(images, [1, 0, 0, 0], [1, -1, -1, -1]);
    const alone = vae.encodeMoments(second);
    const batched = vae.encodeMoments(images);
    const aloneData = await alone.data();
    const batchedData = (await batched.data()).slice(aloneData.length);
    aloneData.forEach((v, i) => expect(batchedData[i]).toBeCloseTo(v, 5));
    expect(aloneData.every(Number.isFinite)).toBe(true);
    tf.dispose([images, decoded, second, alone, batched]);
    dist.dispose();
    vae.dispose();
  });

  it('decode is differentiable with respect to the latents (gradient matches a finite difference)', async () => {
    await ensureGradients();
    const vae = AutoencoderKL.fromWeights(secondConfig, randomWeights(secondConfig, 7));
    const latents = new Rng(8).normalTensor([1, 2, 2, 3]) as tf.Tensor4D;
    const direction = new Rng(9).normalTensor([1, 2, 2, 3]) as tf.Tensor4D;
    const loss = (z: tf.Tensor4D): tf.Scalar => tf.tidy(() => tf.sum(tf.square(vae.decode(z))));
    const before = tf.memory().numTensors;
    const grad = tf.grad((z: tf.Tensor) => loss(z as tf.Tensor4D))(latents);
    expect(tf.memory().numTensors).toBe(before + 1);
    const analytic = scalarValue(tf.tidy(() => tf.sum(tf.mul(grad, direction))));
    const h = 1e-2;
    const plus = tf.tidy(() => tf.add(latents, tf.mul(direction, h))) as tf.Tensor4D;
    const minus = tf.tidy(() => tf.sub(latents, tf.mul(direction, h))) as tf.Tensor4D;
    const numeric = (scalarValue(loss(plus)) - scalarValue(loss(minus))) / (2 * h);
    expect(Math.abs(analytic - numeric)).toBeLessThan(2e-3 * Math.max(1, Math.abs(numeric)));
    tf.dispose([grad, plus, minus]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([latents, direction]);
    vae.dispose();
  });
});

describe('AutoencoderKL weights', () => {
  it('loads the older query/key/value/proj_attn names (and 1×1-conv-shaped ones) to the same model', async () => {
    const legacy = new Map<string, HostTensor>();
    for (const [key, value] of fixtureWeights) {
      const renamed = key.replace(/\.to_q\./, '.query.').replace(/\.to_k\./, '.key.').replace(/\.to_v\./, '.value.').replace(/\.to_out\.0\./, '.proj_attn.');
      const convShaped = renamed.endsWith('.proj_attn.weight') && renamed.startsWith('decoder.');
      legacy.set(renamed, convShaped ? { ...value, shape: [...value.shape, 1, 1] } : value);
    }
    expect([...legacy.keys()].filter((k) => k.includes('.query.')).length).toBe(4);
    const current = AutoencoderKL.fromWeights(fixtureConfig, fixtureWeights);
    const old = AutoencoderKL.fromWeights(fixtureConfig, legacy);
    const latents = new Rng(3).normalTensor([1, 4, 4, 4]) as tf.Tensor4D;
    const a = current.decode(latents);
    const b = old.decode(latents);
    expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
    const exported = old.exportWeights();
    expect([...exported.keys()].sort()).toEqual([...fixtureWeights.keys()].sort());
    for (const [key, value] of exported) {
      expect(value.shape, key).toEqual(fixtureWeights.get(key)?.shape);
      expect(Array.from(value.data), key).toEqual(Array.from(fixtureWeights.get(key)?.data ?? []));
    }
    tf.dispose([latents, a, b]);
    current.dispose();
    old.dispose();
  });

  it('rejects mismatched weights with one WeightKeysError listing every problem, leaking nothing', () => {
    const broken = new Map<string, HostTensor>(fixtureWeights);
    broken.delete('decoder.conv_out.bias');
    broken.delete('encoder.mid_block.attentions.0.to_k.weight');
    broken.set('encoder.mid_block.attentions.0.query.weight', fixtureWeights.get('encoder.mid_block.attentions.0.to_q.weight')!);
    broken.set('decoder.up_blocks.5.resnets.0.norm1.weight', fixtureWeights.get('decoder.conv_out.bias')!);
    broken.set('quant_conv.weight', fixtureWeights.get('post_quant_conv.weight')!);
    const before = tf.memory().numTensors;
    let error: unknown;
    try {
      AutoencoderKL.fromWeights(fixtureConfig, broken, { source: 'broken-vae.safetensors' });
    } catch (e) {
      error = e;
    }
    expect(WeightKeysError.isInstance(error)).toBe(true);
    const e = error as WeightKeysError;
    expect(e.source).toBe('broken-vae.safetensors');
    expect(e.missing).toEqual(['decoder.conv_out.bias', 'encoder.mid_block.attentions.0.to_k.weight']);
    // `query` collides with the present `to_q`, so it stays under its old name and is reported.
    expect(e.unexpected).toEqual(['decoder.up_blocks.5.resnets.0.norm1.weight', 'encoder.mid_block.attentions.0.query.weight']);
    expect(e.wrongShape).toEqual([{ key: 'quant_conv.weight', expected: [8, 8, 1, 1], received: [4, 4, 1, 1] }]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('holds 124 frozen variables in tfjs layouts and frees them on dispose', () => {
    const before = tf.memory().numTensors;
    const vae = AutoencoderKL.fromWeights(fixtureConfig, fixtureWeights);
    expect(autoencoderKLWeightShapes(vae.config).size).toBe(124);
    const params = vae.parameters();
    expect(params.size).toBe(124);
    expect(tf.memory().numTensors).toBe(before + 124);
    expect(params.get('encoder.conv_in.weight')?.shape).toEqual([3, 3, 3, 32]);
    expect(params.get('decoder.mid_block.attentions.0.to_q.weight')?.shape).toEqual([64, 64]);
    expect([...params.values()].every((v) => !v.trainable)).toBe(true);
    vae.dispose();
    vae.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => vae.parameters()).toThrow(expect.objectContaining({ option: 'AutoencoderKL' }));
    const trainable = AutoencoderKL.fromWeights(fixtureConfig, fixtureWeights, { trainable: true });
    expect([...trainable.parameters().values()].every((v) => v.trainable)).toBe(true);
    trainable.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('AutoencoderKL validation', () => {
  it('validates the config', () => {
    expect(() => parseAutoencoderKLConfig({ ...fixtureConfig, act_fn: 'relu' })).toThrow(UnsupportedError);
    expect(() => parseAutoencoderKLConfig({ ...fixtureConfig, layers_per_block: 1e9 })).toThrow(/layers_per_block.*up to 1000/);
    expect(() => parseAutoencoderKLConfig({ ...fixtureConfig, down_block_types: ['DownEncoderBlock2D', 'AttnDownEncoderBlock2D'] })).toThrow(UnsupportedError);
    expect(() => parseAutoencoderKLConfig({ ...fixtureConfig, up_block_types: ['UpDecoderBlock2D'] })).toThrow(/up_block_types/);
    expect(() => parseAutoencoderKLConfig({ ...fixtureConfig, norm_num_groups: 24 })).toThrow(InvalidOptionError);
    expect(() => parseAutoencoderKLConfig({ ...fixtureConfig, block_out_channels: [] })).toThrow(/block_out_channels/);
    const parsed = parseAutoencoderKLConfig(fixtureConfig);
    expect(parsed).toMatchObject({ blockOutChannels: [32, 64], latentChannels: 4, scalingFactor: 0.18215, useQuantConv: true });
  });

  it('rejects bad images and latents with typed errors', () => {
    const vae = AutoencoderKL.fromWeights(fixtureConfig, fixtureWeights);
    const odd = tf.zeros([1, 15, 16, 3]) as tf.Tensor4D;
    const fourChannels = tf.zeros([1, 16, 16, 4]) as tf.Tensor4D;
    const ints = tf.zeros([1, 16, 16, 3], 'int32') as tf.Tensor4D;
    const rank3 = tf.zeros([8, 8, 4]) as unknown as tf.Tensor4D;
    expect(() => vae.encode(odd)).toThrow(ShapeMismatchError);
    expect(() => vae.encodeMoments(fourChannels)).toThrow(ShapeMismatchError);
    expect(() => vae.asLatentCodec().encode(ints)).toThrow(InvalidOptionError);
    expect(() => vae.decode(rank3)).toThrow(ShapeMismatchError);
    expect(() => vae.decode(tf.zeros([1, 8, 8, 3]) as tf.Tensor4D)).toThrow(ShapeMismatchError);
    vae.dispose();
    const z = tf.zeros([1, 8, 8, 4]) as tf.Tensor4D;
    // the model's own guard, not tfjs's "Tensor is disposed" from a freed weight
    expect(() => vae.decode(z)).toThrow(expect.objectContaining({ option: 'AutoencoderKL' }));
    z.dispose();
    tf.dispose([odd, fourChannels, ints, rank3]);
  });

  it('fromPretrained names the missing folder with a FileFormatError', async () => {
    const error = await AutoencoderKL.fromPretrained('/nonexistent/vae').catch((e: unknown) => e);
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect(String((error as Error).message)).toMatch(/\/nonexistent\/vae/);
  });
});

describe('DiagonalGaussian', () => {
  it('splits moments, clamps log σ² to [−30, 20], and samples μ + σ·ε from the seeded stream', async () => {
    // moments [1, 1, 2, 4] = [μ (2 channels) | log σ² (2 channels)] per position.
    const moments = tf.tensor4d([0.5, -1, -40, 0.2, 2, 3, 25, -2], [1, 1, 2, 4]);
    const before = tf.memory().numTensors;
    const dist = DiagonalGaussian.fromMoments(moments);
    expect(Array.from(await dist.mean.data())).toEqual([0.5, -1, 2, 3]);
    expect(Array.from(await dist.logvar.data())).toEqual([-30, Math.fround(0.2), 20, -2]);
    const std = await dist.std.data();
    [-30, 0.2, 20, -2].forEach((lv, i) => expect(Math.abs((std[i] as number) / Math.exp(0.5 * lv) - 1)).toBeLessThan(1e-6));
    const sample = dist.sample(new Rng(42));
    const z = await sample.data();
    const eps = new Rng(42).normalArray(4);
    [0.5, -1, 2, 3].forEach((mu, i) => {
      const want = mu + (std[i] as number) * (eps[i] as number);
      expect(Math.abs((z[i] as number) - want)).toBeLessThan(1e-5 * Math.abs(want) + 1e-6);
    });
    expect(tf.memory().numTensors).toBe(before + 4);
    sample.dispose();
    const mode = dist.mode();
    expect(Array.from(await mode.data())).toEqual([0.5, -1, 2, 3]);
    tf.dispose([mode]);
    dist.dispose();
    expect(tf.memory().numTensors).toBe(before);
    moments.dispose();
  });
});
