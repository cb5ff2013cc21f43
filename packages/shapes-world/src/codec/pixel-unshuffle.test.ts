// Tests of the pixel-unshuffle codec on cpu and wasm: the index formula, exact round trips, agreement with
// tfjs's depthToSpace, gradients, shape errors and leaks.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { ensureGradients, Rng, ShapeMismatchError, type LatentCodec } from '@erase/core';
import { PixelUnshuffleCodec } from './pixel-unshuffle';

describe.each(['cpu', 'wasm'])('PixelUnshuffleCodec on %s', (backend) => {
  const codec: LatentCodec = new PixelUnshuffleCodec();

  it('has scaling factor 1 and downsample factor 2', async () => {
    expect(await tf.setBackend(backend)).toBe(true);
    expect(codec.scalingFactor).toBe(1);
    expect(codec.downsampleFactor).toBe(2);
  });

  it('encode follows z[b, i, j, (dy·2 + dx)·3 + c] = x[b, 2i + dy, 2j + dx, c]', async () => {
    await tf.setBackend(backend);
    const [B, H, W, C] = [2, 6, 4, 3];
    const values = Float32Array.from({ length: B * H * W * C }, (_, k) => k);
    const x = tf.tensor4d(values, [B, H, W, C]);
    const z = codec.encode(x);
    expect(z.shape).toEqual([B, H / 2, W / 2, 12]);
    const got = await z.data();
    const expected = new Float32Array(got.length);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < H / 2; i++)
        for (let j = 0; j < W / 2; j++)
          for (let dy = 0; dy < 2; dy++)
            for (let dx = 0; dx < 2; dx++)
              for (let c = 0; c < C; c++) {
                const zi = ((b * (H / 2) + i) * (W / 2) + j) * 12 + (dy * 2 + dx) * 3 + c;
                expected[zi] = values[((b * H + 2 * i + dy) * W + 2 * j + dx) * C + c] as number;
              }
    expect(Array.from(got)).toEqual(Array.from(expected));
    tf.dispose([x, z]);
  });

  it('decode(encode(x)) = x and encode(decode(z)) = z exactly; decode equals tf.depthToSpace', async () => {
    await tf.setBackend(backend);
    const x = new Rng(1).normalTensor([3, 24, 24, 3]) as tf.Tensor4D;
    const z = codec.encode(x);
    const back = codec.decode(z);
    expect(Array.from(await back.data())).toEqual(Array.from(await x.data()));
    const z2 = new Rng(2).normalTensor([2, 12, 12, 12]) as tf.Tensor4D;
    const images = codec.decode(z2);
    expect(images.shape).toEqual([2, 24, 24, 3]);
    const reference = tf.depthToSpace(z2, 2, 'NHWC');
    expect(Array.from(await images.data())).toEqual(Array.from(await reference.data()));
    const again = codec.encode(images);
    expect(Array.from(await again.data())).toEqual(Array.from(await z2.data()));
    tf.dispose([x, z, back, z2, images, reference, again]);
  });

  it('is differentiable (the gradient of Σ w ⊙ encode(x) is decode(w))', async () => {
    await tf.setBackend(backend);
    await ensureGradients();
    const x = new Rng(3).normalTensor([1, 4, 4, 3]) as tf.Tensor4D;
    const w = new Rng(4).normalTensor([1, 2, 2, 12]) as tf.Tensor4D;
    const gradient = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(codec.encode(input as tf.Tensor4D), w)))(x);
    const expected = codec.decode(w);
    expect(Array.from(await gradient.data())).toEqual(Array.from(await expected.data()));
    tf.dispose([x, w, gradient, expected]);
  });

  it('leaves no tensors behind apart from its result', async () => {
    await tf.setBackend(backend);
    const x = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const z = codec.encode(x);
    expect(tf.memory().numTensors).toBe(before + 1);
    const y = codec.decode(z);
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([z, y]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('rejects wrong shapes with ShapeMismatchError', async () => {
    await tf.setBackend(backend);
    const odd = tf.zeros([1, 5, 4, 3]) as tf.Tensor4D;
    const fourChannels = tf.zeros([1, 4, 4, 4]) as tf.Tensor4D;
    const rank3 = tf.zeros([4, 4, 3]) as unknown as tf.Tensor4D;
    const before = tf.memory().numTensors;
    expect(() => codec.encode(odd)).toThrow(ShapeMismatchError);
    expect(() => codec.encode(fourChannels)).toThrow(ShapeMismatchError);
    expect(() => codec.decode(fourChannels)).toThrow(/expected shape \[\?, \?, \?, 12\]/);
    expect(() => codec.encode(rank3)).toThrow(ShapeMismatchError);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([odd, fourChannels, rank3]);
  });
});
