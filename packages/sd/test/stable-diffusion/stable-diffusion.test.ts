import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidOptionError, UnsupportedError } from '@erase/core';
import { writeSafetensors } from '../../src/io/index';
import { textToImage } from '../../src/pipeline/index';
import { DDIMScheduler } from '../../src/schedulers/index';
import { StableDiffusion } from '../../src/stable-diffusion/index';
import { buildLdmCheckpoint } from '../io/ldm-fixture';
import { writeTinyPipeline } from './tiny-pipeline';

describe.each(['cpu', 'wasm'])('StableDiffusion bundle (%s)', (backend) => {
  let dir: string;
  beforeAll(async () => {
    await tf.setBackend(backend);
    dir = writeTinyPipeline();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a diffusers folder and generates images deterministically without leaking', async () => {
    const model = await StableDiffusion.fromPretrained(dir);
    expect(model.latentShape).toEqual([16, 16, 4]);
    expect(model.scheduler).toBeInstanceOf(DDIMScheduler);
    expect(model.unet.crossAttentionSites()).toHaveLength(6);
    const before = tf.memory().numTensors;
    const run = async (): Promise<number[]> => {
      const r = await textToImage(model, { prompt: 'a photo of a cat', numInferenceSteps: backend === 'wasm' ? 2 : 1, guidanceScale: 3, seed: 5 });
      expect(r.images?.shape).toEqual([1, 32, 32, 3]);
      const values = Array.from(await r.images!.data());
      r.images?.dispose();
      r.latents.dispose();
      return values;
    };
    const a = await run();
    expect(a.every(Number.isFinite)).toBe(true);
    // tfjs-cpu runs this UNet ~30x slower than wasm: one generation there, the determinism check on wasm.
    if (backend === 'wasm') expect(await run()).toEqual(a);
    expect(tf.memory().numTensors).toBe(before);
    const e = model.textEncoder.encodePrompts(['a cat', '']);
    expect(e.shape).toEqual([2, 77, 32]);
    e.dispose();
    model.dispose();
  });

  it('selects the backend by name and reads fp16 variants', async () => {
    const other = backend === 'cpu' ? 'wasm' : 'cpu';
    await tf.setBackend(other);
    const model = await StableDiffusion.fromPretrained(dir, { backend: backend as 'cpu' | 'wasm', threads: backend === 'wasm' ? 1 : undefined });
    expect(tf.getBackend()).toBe(backend);
    model.dispose();
    await expect(StableDiffusion.fromPretrained(dir, { variant: 'fp16' })).rejects.toSatisfy((e) => FileFormatError.isInstance(e));
    // @ts-expect-error: not a backend name
    await expect(StableDiffusion.fromPretrained(dir, { backend: 'gpu' })).rejects.toSatisfy((e) => InvalidOptionError.isInstance(e));
  });

  it('gives typed errors for bad inputs', async () => {
    await expect(StableDiffusion.fromPretrained(join(dir, 'nope'))).rejects.toSatisfy((e) => FileFormatError.isInstance(e));
    // @ts-expect-error: the tokenizer is required
    await expect(StableDiffusion.fromSingleFile(join(dir, 'x.safetensors'), {})).rejects.toSatisfy((e) => InvalidOptionError.isInstance(e));
    const ckpt = join(dir, 'model.ckpt');
    writeFileSync(ckpt, 'not really a pickle');
    await expect(StableDiffusion.fromSingleFile(ckpt, { tokenizer: join(dir, 'tokenizer') })).rejects.toSatisfy((e) =>
      UnsupportedError.isInstance(e),
    );
  });
});

// The same weights through the single-file loader (wasm only: tfjs-cpu adds minutes and no coverage here).
describe('StableDiffusion.fromSingleFile (wasm)', () => {
  let dir: string;
  beforeAll(async () => {
    await tf.setBackend('wasm');
    dir = writeTinyPipeline();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads the same weights from a single-file LDM checkpoint', async () => {
    const file = join(dir, 'tiny-ldm.safetensors');
    writeSafetensors(file, buildLdmCheckpoint());
    const fromFolder = await StableDiffusion.fromPretrained(dir);
    const fromFile = await StableDiffusion.fromSingleFile(file, {
      tokenizer: join(dir, 'tokenizer'),
      textEncoderConfig: { num_attention_heads: 4 },
      unetConfig: { sample_size: 16 },
      scheduler: { _class_name: 'DDIMScheduler', beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, steps_offset: 1, clip_sample: false, set_alpha_to_one: false },
    });
    const generate = async (model: StableDiffusion): Promise<Float32Array> => {
      const r = await textToImage(model, { prompt: 'a cat', numInferenceSteps: 2, seed: 1, outputType: 'latent' });
      const v = (await r.latents.data()) as Float32Array;
      r.latents.dispose();
      return v;
    };
    expect(Array.from(await generate(fromFile))).toEqual(Array.from(await generate(fromFolder)));
    fromFolder.dispose();
    fromFile.dispose();
  });

});
