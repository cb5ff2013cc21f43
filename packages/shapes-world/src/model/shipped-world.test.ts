/**
 * The shipped world (weights/, trained by `pnpm train:shapes`) through the public loader: it loads as the same
 * bundle type a real checkpoint gives, generates through the public pipeline, and the shipped oracle scores what it
 * draws. Image quality (≥ 50 seeds per prompt) is measured by `pnpm eval:shapes` and reported in docs/shapes-world/.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { textToImage } from '@erase/sd';
import { loadShapesWorld, type ShapesWorldModel } from './load-shapes-world';

describe('the shipped ShapesWorld', () => {
  let world: ShapesWorldModel;
  beforeAll(async () => {
    world = await loadShapesWorld({ backend: 'wasm', threads: 1 });
  });
  afterAll(() => world.dispose());

  it('is the same bundle type a real checkpoint gives, sized as documented', () => {
    expect(world.source).toBe('embedded:shapes-world');
    expect(world.latentShape).toEqual([12, 12, 12]);
    expect(world.unet.crossAttentionSites()).toHaveLength(7);
    expect(world.textEncoder.maxLength).toBe(16);
  });

  it('generates images through the public pipeline and the oracle scores them, without leaking', async () => {
    const before = tf.memory().numTensors;
    const { images, latents } = await textToImage(world, {
      prompt: ['a photo of the circle', 'a photo of the moon'],
      numImagesPerPrompt: 2,
      numInferenceSteps: 20,
      seed: 11,
    });
    expect(images?.shape).toEqual([4, 24, 24, 3]);
    expect(latents.shape).toEqual([4, 12, 12, 12]);
    const inRange = tf.tidy(() => tf.mul(tf.sub(images!, 0.5), 2) as tf.Tensor4D); // [0, 1] -> [-1, 1]
    const probabilities = world.oracle!.classify(inRange); // [4, 10]
    const rows = probabilities.arraySync();
    for (const row of rows) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    tf.dispose([images!, latents, inRange, probabilities]);
    expect(tf.memory().numTensors).toBe(before);
    // How often these images show the prompted class is measured by `pnpm eval:shapes` (docs/shapes-world/).
  });

  it('follows prompts: the oracle finds the prompted class (or a synonym\'s class) in most images', async () => {
    // A smoke check of conditioning on 24 images (the ≥ 50-seed figures are in docs/shapes-world/): a world that
    // ignored its prompts would hit ≈ 10% here; the shipped one hits 90% or more per class over 50 seeds.
    const prompts = ['a photo of the triangle', 'a photo of the heart', 'a photo of the ring', 'a photo of the sickle', 'a photo of the block', 'a photo of the diamond'];
    const expected = ['triangle', 'heart', 'ring', 'moon', 'square', 'diamond'];
    const { images } = await textToImage(world, { prompt: prompts, numImagesPerPrompt: 4, numInferenceSteps: 20, seed: 3 });
    const inRange = tf.tidy(() => tf.mul(tf.sub(images!, 0.5), 2) as tf.Tensor4D); // [0, 1] -> [-1, 1]
    const probabilities = world.oracle!.classify(inRange); // [24, 10]
    const rows = probabilities.arraySync();
    tf.dispose([images!, inRange, probabilities]);
    const names = world.oracle!.classNames;
    const hits = rows.filter((row, i) => names[row.indexOf(Math.max(...row))] === expected[Math.floor(i / 4)]).length;
    expect(hits, `${hits} of 24 images show the prompted class`).toBeGreaterThanOrEqual(16);
  });
});
