/**
 * One small realEra() run end to end on a real (tiny) Stable Diffusion folder built from the parity fixtures
 * (CLIP text model, UNet with 6 cross-attention sites, VAE, DDIM), on wasm: every stage on, very small settings.
 * `@erase/sd` is a test-only dependency of this package.
 */
import { rmSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StableDiffusion } from '@erase/sd';
import { realEra } from '../src/index';
import { writeTinyPipeline } from '../../sd/test/stable-diffusion/tiny-pipeline';

describe('realEra() on the tiny SD pipeline (wasm)', () => {
  let dir: string;
  beforeAll(async () => {
    await tf.setBackend('wasm');
    dir = writeTinyPipeline();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('mines, edits all 12 projections in closed form, trains a rank-1 LoRA, and leaks nothing', async () => {
    const model = await StableDiffusion.fromPretrained(dir);
    const sites = model.unet.crossAttentionSites();
    expect(sites).toHaveLength(6);
    const first = sites[0]!.readProjection('to_k');
    const original = Array.from(await first.data());
    first.dispose();
    const before = tf.memory().numTensors;
    const stages: string[] = [];
    const result = await realEra(model, {
      concepts: ['a cat'],
      anchorConcepts: ['a dog'],
      sampler: { numNeighbours: 2, numBeyond: 2 },
      lora: { steps: 4, learningRate: 1e-3, anchorImages: 1, generationSteps: 2, guidanceScale: 3 },
      seed: 5,
      onProgress: (event) => {
        if (!stages.includes(event.stage)) stages.push(event.stage);
      },
    });
    expect(stages).toEqual(['realera.encode', 'realera.mining', 'realera.anchor-latents', 'closed-form.edit', 'realera.lora']);
    expect(result.weights.size).toBe(12);
    const cf = result.statistics.closedForm!;
    for (const p of cf.report.projections) expect(p.residualAfter, p.key).toBeLessThan(p.residualBefore);
    expect(result.lora?.weights.size).toBe(12);
    expect(result.statistics.lora?.losses).toHaveLength(4);
    expect(result.statistics.lora?.losses.every(Number.isFinite)).toBe(true);
    const mining = result.statistics.mining![0]!;
    expect(mining.sampling.neighbours.accepted).toBe(2 * mining.rows);
    // θ' is in the model and differs from the original weights.
    const now = sites[0]!.readProjection('to_k');
    const edited = Array.from(await now.data());
    now.dispose();
    expect(edited).toEqual(Array.from(await result.weights.get(`${sites[0]!.path}.to_k`)!.data()));
    expect(edited).not.toEqual(original);
    result.dispose();
    result.lora?.adapter?.detach();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
