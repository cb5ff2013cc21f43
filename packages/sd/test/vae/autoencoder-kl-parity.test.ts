// Parity of AutoencoderKL with diffusers 0.25.1 on the vae-tiny fixture (cpu and wasm).
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors, type HostTensor } from '../../src/io/safetensors';
import { AutoencoderKL } from '../../src/vae/index';
import { compareArrays, fixture, nchwToNhwc } from '../parity';

const atol = 1e-4;
const dir = fixture('parity', 'vae-tiny');
const decodeCase = readSafetensors(`${dir}/case_decode.safetensors`).tensors;
const encodeCase = readSafetensors(`${dir}/case_encode.safetensors`).tensors;

/** A fixture tensor [N, C, H, W] as an NHWC tfjs tensor. The caller owns it. */
function nhwcTensor(t: HostTensor): tf.Tensor4D {
  const [n, c, h, w] = t.shape as [number, number, number, number];
  return tf.tensor4d(nchwToNhwc(t.data, [n, c, h, w]), [n, h, w, c]);
}

function get(file: ReadonlyMap<string, HostTensor>, name: string): HostTensor {
  const t = file.get(name);
  if (!t) throw new Error(`fixture has no tensor ${name}`);
  return t;
}

describe.each(['cpu', 'wasm'])('AutoencoderKL parity on %s (vae-tiny)', (backend) => {
  let vae: AutoencoderKL;
  const maxDiffs: Record<string, number> = {};

  beforeAll(async () => {
    await tf.setBackend(backend);
    await tf.ready();
    vae = await AutoencoderKL.fromPretrained(dir);
  });

  afterAll(() => {
    vae.dispose();
    console.log(`[vae-tiny ${backend}] max abs diffs:`, maxDiffs);
  });

  const check = async (label: string, actual: tf.Tensor, reference: HostTensor): Promise<void> => {
    const [n, c, h, w] = reference.shape as [number, number, number, number];
    expect(actual.shape).toEqual([n, h, w, c]);
    const expected = nchwToNhwc(reference.data, [n, c, h, w]);
    const cmp = compareArrays(`${backend} ${label}`, await actual.data(), expected, [n, h, w, c], atol);
    maxDiffs[label] = cmp.maxAbsDiff;
    expect(cmp.maxAbsDiff, cmp.report).toBeLessThanOrEqual(atol);
  };

  it('case_decode: decode(latents) matches vae.decode(latents).sample', async () => {
    const latents = nhwcTensor(get(decodeCase, 'latents'));
    const out = vae.decode(latents);
    await check('decode out', out, get(decodeCase, 'out'));
    tf.dispose([latents, out]);
  });

  it('case_encode: moments, mean, clamped logvar and std match latent_dist', async () => {
    const image = nhwcTensor(get(encodeCase, 'image'));
    const moments = vae.encodeMoments(image);
    await check('encode moments', moments, get(encodeCase, 'moments'));
    const dist = vae.encode(image);
    await check('encode out (mean)', dist.mean, get(encodeCase, 'out'));
    await check('encode logvar', dist.logvar, get(encodeCase, 'logvar'));
    await check('encode std', dist.std, get(encodeCase, 'std'));
    const codecMean = vae.asLatentCodec().encode(image);
    await check('codec encode (mean)', codecMean, get(encodeCase, 'out'));
    dist.dispose();
    tf.dispose([image, moments, codecMean]);
  });

  it('encode, encodeMoments, decode and the codec leave no tensors behind', () => {
    const image = nhwcTensor(get(encodeCase, 'image'));
    const latents = nhwcTensor(get(decodeCase, 'latents'));
    const codec = vae.asLatentCodec();
    const before = tf.memory().numTensors;
    const dist = vae.encode(image);
    expect(tf.memory().numTensors).toBe(before + 3);
    dist.dispose();
    const moments = vae.encodeMoments(image);
    const decoded = vae.decode(latents);
    const mean = codec.encode(image);
    const decoded2 = codec.decode(latents);
    expect(tf.memory().numTensors).toBe(before + 4);
    tf.dispose([moments, decoded, mean, decoded2]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([image, latents]);
  });
});
