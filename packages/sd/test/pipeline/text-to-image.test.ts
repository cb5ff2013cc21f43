import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, FileFormatError, InvalidOptionError, ShapeMismatchError } from '@erase/core';
import { PNG } from 'pngjs';
import { imageGrid, savePngs, textToImage } from '../../src/pipeline/index';
import { PNDMScheduler } from '../../src/schedulers/index';
import { fakeModel } from '../fakes/fake-model';

describe('textToImage with a fake model', () => {
  const model = fakeModel();
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterAll(() => model.dispose());

  it('generates [B, H, W, 3] in [0, 1], deterministic for a seed, and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const a = await textToImage(model, { prompt: ['a cat', 'a dog'], numInferenceSteps: 3, seed: 7 });
    const b = await textToImage(model, { prompt: ['a cat', 'a dog'], numInferenceSteps: 3, seed: 7 });
    expect(a.images?.shape).toEqual([2, 4, 4, 3]);
    const [min, max] = tf.tidy(() => [tf.min(a.images!).dataSync()[0]!, tf.max(a.images!).dataSync()[0]!]);
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    expect(Array.from(a.latents.dataSync())).toEqual(Array.from(b.latents.dataSync()));
    for (const t of [a.images!, a.latents, b.images!, b.latents]) t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('frees the scheduler clone it made (PNDM keeps its multistep history), and refuses a bad eta', async () => {
    const pndm = { ...model, scheduler: new PNDMScheduler({ skip_prk_steps: true }), dispose: () => undefined };
    const before = tf.memory().numTensors;
    const out = await textToImage(pndm, { prompt: 'a cat', numInferenceSteps: 5, seed: 1 });
    tf.dispose([out.images!, out.latents]);
    expect(tf.memory().numTensors).toBe(before);
    for (const eta of [Number.NaN, 2, -0.5]) {
      await expect(textToImage(model, { prompt: 'a', eta })).rejects.toSatisfy((e) => InvalidOptionError.isInstance(e) && e.option === 'eta');
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('guidance changes the result, and the unbatched branch equals the batched one', async () => {
    const run = async (guidanceScale: number, batchGuidance: boolean) => {
      const r = await textToImage(model, { prompt: 'x y', numInferenceSteps: 2, seed: 1, guidanceScale, batchGuidance, outputType: 'latent' });
      const v = Array.from(r.latents.dataSync());
      r.latents.dispose();
      return v;
    };
    const g1 = await run(1, true);
    const g5 = await run(5, true);
    const g5split = await run(5, false);
    expect(g5).not.toEqual(g1);
    g5.forEach((v, i) => expect(v).toBeCloseTo(g5split[i] as number, 6));
  });

  it('uses injected latents, checks their shape and reports progress per step', async () => {
    const latents = tf.ones([1, 4, 4, 2]) as tf.Tensor4D;
    const events: number[] = [];
    const r = await textToImage(model, { prompt: 'z', numInferenceSteps: 4, latents, onProgress: (e) => events.push(e.step) });
    expect(events).toEqual([1, 2, 3, 4]);
    expect(latents.isDisposed).toBe(false);
    r.images?.dispose();
    r.latents.dispose();
    await expect(textToImage(model, { prompt: ['a', 'b'], latents })).rejects.toSatisfy((e) => ShapeMismatchError.isInstance(e));
    latents.dispose();
  });

  it('rejects bad options and stops on abort without leaking', async () => {
    await expect(textToImage(model, { prompt: [] })).rejects.toSatisfy((e) => InvalidOptionError.isInstance(e));
    await expect(textToImage(model, { prompt: 'a', numInferenceSteps: 0 })).rejects.toSatisfy((e) => InvalidOptionError.isInstance(e));
    await expect(textToImage(model, { prompt: ['a', 'b'], negativePrompt: ['x'] })).rejects.toSatisfy((e) =>
      InvalidOptionError.isInstance(e),
    );
    const before = tf.memory().numTensors;
    // a bad seed is found before the prompts are encoded (their contexts used to leak)
    await expect(textToImage(model, { prompt: 'a', seed: 1.5 })).rejects.toSatisfy((e) => InvalidOptionError.isInstance(e));
    expect(tf.memory().numTensors).toBe(before);
    const controller = new AbortController();
    const pending = textToImage(model, {
      prompt: 'a',
      numInferenceSteps: 10,
      signal: controller.signal,
      onProgress: (e) => {
        if (e.step === 2) controller.abort();
      },
    });
    await expect(pending).rejects.toSatisfy((e) => AbortedError.isInstance(e));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('writes PNG files and grids', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'erase-png-'));
    const images = tf.tidy(() => tf.stack([tf.zeros([4, 4, 3]), tf.ones([4, 4, 3])]) as tf.Tensor4D); // [2, 4, 4, 3]
    await savePngs(images, [join(dir, 'a.png'), join(dir, 'b.png')]);
    const png = PNG.sync.read(readFileSync(join(dir, 'b.png')));
    expect([png.width, png.height, png.data[0]]).toEqual([4, 4, 255]);
    expect(readdirSync(dir).sort()).toEqual(['a.png', 'b.png']);
    const before = tf.memory().numTensors;
    const grid = imageGrid(images, 2, { padding: 1, background: 0.5 });
    expect(grid.shape).toEqual([4, 9, 3]);
    expect(grid.arraySync()[0]![4]![0]).toBeCloseTo(0.5);
    grid.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // bad grid options and shapes, empty images, and a path under a file: typed errors, nothing leaked
    for (const padding of [1.5, Number.POSITIVE_INFINITY, -1]) expect(() => imageGrid(images, 2, { padding })).toThrow(/padding/);
    const none = tf.zeros([0, 4, 4, 3]) as tf.Tensor4D;
    expect(() => imageGrid(none, 2)).toThrow(ShapeMismatchError);
    const flat = tf.zeros([1, 0, 4, 3]) as tf.Tensor4D; // 0 pixels high
    await expect(savePngs(flat, [join(dir, 'c.png')])).rejects.toThrow(ShapeMismatchError);
    await expect(savePngs(images, [join(dir, 'a.png', 'x.png'), join(dir, 'b.png')])).rejects.toSatisfy((e) => FileFormatError.isInstance(e) && String(e).includes('x.png'));
    tf.dispose([none, flat]);
    expect(tf.memory().numTensors).toBe(before);
    expect(readdirSync(dir).sort()).toEqual(['a.png', 'b.png']);
    images.dispose();
  });
});
