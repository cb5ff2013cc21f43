// Tests of the data-parallel helpers: shard sizes and slices, and a worker that cannot start fails with a typed
// error instead of hanging.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@erase/sd';
import { GradientWorkerError, GradientWorkers } from './gradient-workers';
import { shardSizes, sliceBatch, type StepBatch } from './shard-gradients';
import { TINY_TEXT_ENCODER_CONFIG, TINY_UNET_CONFIG } from './test-configs';

beforeAll(async () => {
  await useBackend('wasm', { threads: 1 });
});
afterAll(() => undefined);

describe('shardSizes / sliceBatch', () => {
  it('splits a batch into contiguous shards whose sizes sum to the batch, larger ones first', () => {
    expect(shardSizes(32, 2)).toEqual([16, 16]);
    expect(shardSizes(5, 2)).toEqual([3, 2]);
    expect(shardSizes(7, 3)).toEqual([3, 2, 2]);
    expect(shardSizes(4, 1)).toEqual([4]);
  });

  it('copies rows [start, start + count) of every field', () => {
    const n = 4; // 4×4 images, 2×2×12 latents, 3 tokens
    const b = 3;
    const batch: StepBatch = {
      images: Float32Array.from({ length: b * n * n * 3 }, (_, i) => i),
      ids: Int32Array.from({ length: b * 3 }, (_, i) => i),
      timesteps: [10, 20, 30],
      noise: Float32Array.from({ length: b * 2 * 2 * 12 }, (_, i) => -i),
      batchSize: b,
      imageSize: n,
    };
    const s = sliceBatch(batch, 1, 2);
    expect(s.batchSize).toBe(2);
    expect(s.timesteps).toEqual([20, 30]);
    expect(Array.from(s.ids)).toEqual([3, 4, 5, 6, 7, 8]);
    expect(s.images.length).toBe(2 * n * n * 3);
    expect(s.images[0]).toBe(n * n * 3);
    expect(s.noise[0]).toBe(-48);
    expect(s.images.buffer).not.toBe(batch.images.buffer); // a copy: transferring it leaves the batch intact
  });
});

describe('GradientWorkers', () => {
  it('rejects with GradientWorkerError naming the weight when a worker cannot take the models', async () => {
    const init = {
      backend: 'wasm',
      textEncoderConfig: TINY_TEXT_ENCODER_CONFIG,
      unetConfig: TINY_UNET_CONFIG,
      params: [{ name: 'unet/conv_out.weight', data: new Float32Array(3) }],
      trained: ['unet/conv_out.weight'],
      frozenText: true,
    };
    const started = GradientWorkers.start(1, init);
    await expect(started).rejects.toThrow(GradientWorkerError);
    await expect(started).rejects.toThrow(/conv_out\.weight/);
  });
});
