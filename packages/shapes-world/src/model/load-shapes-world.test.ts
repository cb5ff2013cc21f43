// Tests of saveShapesWorld → loadShapesWorld on a folder written from a tiny training run (wasm): the bundle loads
// as a DiffusionModel, generates images of the right shape, leaks nothing, and missing files give typed errors.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidOptionError } from '@erase/core';
import { DDIMScheduler, textToImage, useBackend } from '@erase/sd';
import { TINY_TEXT_ENCODER_CONFIG, TINY_UNET_CONFIG } from '../train/test-configs';
import { trainShapesWorld } from '../train/train-shapes-world';
import { loadShapesWorld, shapesWorldWeightsDir } from './load-shapes-world';
import { saveShapesWorld } from './save-weights';

let root: string;
let dir: string;
beforeAll(async () => {
  await useBackend('wasm', { threads: 1 });
  root = mkdtempSync(join(tmpdir(), 'shapes-world-load-'));
  dir = join(root, 'weights');
  const trained = await trainShapesWorld({ steps: 2, batchSize: 2, warmupSteps: 0, textEncoderConfig: TINY_TEXT_ENCODER_CONFIG, unetConfig: TINY_UNET_CONFIG });
  saveShapesWorld(dir, trained.textEncoder, trained.unet, { textEncoderConfig: TINY_TEXT_ENCODER_CONFIG, unetConfig: TINY_UNET_CONFIG });
  trained.textEncoder.dispose();
  trained.unet.dispose();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('saveShapesWorld', () => {
  it('writes the diffusers layout, with DDIM sampling settings', () => {
    for (const file of ['model_index.json', 'text_encoder/config.json', 'text_encoder/model.safetensors', 'unet/config.json',
      'unet/diffusion_pytorch_model.safetensors', 'scheduler/scheduler_config.json', 'tokenizer/vocab.json', 'tokenizer/merges.txt']) {
      expect(existsSync(join(dir, file)), file).toBe(true);
    }
    const scheduler = JSON.parse(readFileSync(join(dir, 'scheduler/scheduler_config.json'), 'utf8')) as Record<string, unknown>;
    expect(scheduler).toMatchObject({ _class_name: 'DDIMScheduler', beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, timestep_spacing: 'leading', steps_offset: 1, clip_sample: true, clip_sample_range: 1 });
  });
});

describe('loadShapesWorld', () => {
  it('loads a DiffusionModel that generates [B, 8, 8, 3] images in [0, 1] and frees everything on dispose', async () => {
    const start = tf.memory().numTensors;
    const model = await loadShapesWorld({ dir, oracle: false });
    expect(model.source).toBe('embedded:shapes-world');
    expect(model.latentShape).toEqual([4, 4, 12]);
    expect(model.defaultGuidanceScale).toBe(3);
    expect(model.scheduler).toBeInstanceOf(DDIMScheduler);
    expect(model.textEncoder.maxLength).toBe(16);
    expect(model.oracle).toBeUndefined();
    const { images, latents } = await textToImage(model, { prompt: ['a red circle', 'moon'], numInferenceSteps: 3, seed: 1 });
    expect(images?.shape).toEqual([2, 8, 8, 3]);
    const values = (await images!.data()) as Float32Array;
    expect(values.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)).toBe(true);
    tf.dispose([images!, latents]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('names the folder and `pnpm train:shapes` when weights are missing', async () => {
    const empty = join(root, 'empty');
    const error = await loadShapesWorld({ dir: empty, oracle: false }).catch((e: unknown) => e);
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain(empty);
    expect((error as Error).message).toContain('pnpm train:shapes');
  });

  it('refuses threads without the wasm backend (they would be ignored)', async () => {
    const error = await loadShapesWorld({ dir, oracle: false, threads: 1 }).catch((e: unknown) => e);
    expect(InvalidOptionError.isInstance(error) && error.option).toBe('threads');
  });

  it('asks for the oracle when it is wanted and missing', async () => {
    const copy = join(root, 'no-oracle');
    cpSync(dir, copy, { recursive: true });
    const error = await loadShapesWorld({ dir: copy }).catch((e: unknown) => e);
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain(join(copy, 'oracle', 'model.safetensors'));
  });

  it("takes the guidance scale from model_index.json and rejects a bad one, naming the file", async () => {
    const copy = join(root, 'guidance');
    cpSync(dir, copy, { recursive: true });
    const indexFile = join(copy, 'model_index.json');
    const index = JSON.parse(readFileSync(indexFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(indexFile, JSON.stringify({ ...index, guidance_scale: 2.5 }));
    const model = await loadShapesWorld({ dir: copy, oracle: false });
    expect(model.defaultGuidanceScale).toBe(2.5);
    model.dispose();
    writeFileSync(indexFile, JSON.stringify({ ...index, guidance_scale: 'high' }));
    const error = await loadShapesWorld({ dir: copy, oracle: false }).catch((e: unknown) => e);
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain(indexFile);
    expect((error as Error).message).toContain('guidance_scale');
  });

  it('defaults to the package weights folder', () => {
    expect(shapesWorldWeightsDir()).toBe(join(new URL('../../', import.meta.url).pathname, 'weights'));
  });
});
