/**
 * Parity of UNet2DConditionModel with diffusers 0.25.1 on the tiny SD 1.x fixture (../shared/fixtures/parity/unet-tiny-sd1),
 * on cpu and wasm: the four timestep cases, the debug intermediates of case t10, and the cross-attention site list.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/io/safetensors';
import type { HostTensor } from '../../src/io/safetensors';
import type { UNet2DConditionModel } from '../../src/unet/unet-2d-condition';
import { compareArrays } from '../parity';
import { BACKENDS, UNET_DIR, loadTinyUnet, readCase, toNhwc, useBackend } from './helpers';

const ATOL = 1e-4;

describe.each(BACKENDS)('UNet2DConditionModel parity (%s)', (backend) => {
  let unet: UNet2DConditionModel;

  beforeAll(async () => {
    await useBackend(backend);
    unet = loadTinyUnet();
  });
  afterAll(() => unet.dispose());

  it.each(['t10', 't999', 'tbatch', 'tfrac'])('case %s matches diffusers (atol 1e-4)', async (name) => {
    const c = readCase(`${UNET_DIR}/case_${name}.safetensors`);
    const out = unet.predict(c.latents, c.timesteps, c.context);
    const actual = await out.data();
    const expected = c.expected.get('out') as { data: Float32Array; shape: number[] };
    expect(out.shape).toEqual(expected.shape);
    const cmp = compareArrays(`${backend} ${name}`, actual, expected.data, expected.shape, ATOL);
    console.log(cmp.report);
    expect(cmp.maxAbsDiff, cmp.report).toBeLessThanOrEqual(ATOL);
    tf.dispose([out, c.latents, c.timesteps, c.context]);
  });

  it('a number timestep equals the [B] tensor of the same value (t10)', async () => {
    const c = readCase(`${UNET_DIR}/case_t10.safetensors`);
    const a = unet.predict(c.latents, 10, c.context);
    const b = unet.predict(c.latents, c.timesteps, c.context);
    const cmp = compareArrays(`${backend} t10 number vs tensor`, await a.data(), await b.data(), a.shape, 0);
    expect(cmp.maxAbsDiff, cmp.report).toBe(0);
    tf.dispose([a, b, c.latents, c.timesteps, c.context]);
  });

  it('debug intermediates of case t10 match the forward hooks', async () => {
    const c = readCase(`${UNET_DIR}/case_t10.safetensors`);
    const { out, intermediates } = unet.predictWithIntermediates(c.latents, c.timesteps, c.context);
    const reference = readSafetensors(`${UNET_DIR}/debug_t10_intermediates.safetensors`).tensors;
    const names = ['conv_in', 'time_proj', 'time_embedding', 'down_blocks_0', 'down_blocks_1', 'mid_block', 'up_blocks_0', 'up_blocks_1', 'conv_norm_out', 'conv_out'];
    const failures: string[] = [];
    for (const name of names) {
      const ref = reference.get(name) as HostTensor;
      const expected = ref.shape.length === 4 ? toNhwc(ref) : { data: ref.data as Float32Array, shape: [...ref.shape] };
      const actual = intermediates.get(name);
      expect(actual, name).toBeDefined();
      expect(actual?.shape).toEqual(expected.shape);
      const cmp = compareArrays(`${backend} ${name}`, await (actual as tf.Tensor).data(), expected.data, expected.shape, ATOL);
      console.log(cmp.report);
      if (!(cmp.maxAbsDiff <= ATOL)) failures.push(cmp.report);
    }
    expect(failures, failures.join('\n')).toEqual([]);
    tf.dispose([out, ...intermediates.values(), c.latents, c.timesteps, c.context]);
  });

  it('cross-attention sites follow cross_attention_modules.json (order, heads, dims, weights)', async () => {
    const listed = JSON.parse(readFileSync(`${UNET_DIR}/cross_attention_modules.json`, 'utf8')) as {
      modules: { module: string; heads: number; inner_dim: number; cross_attention_dim: number; to_k: { key: string; shape: number[] } }[];
    };
    const sites = unet.crossAttentionSites();
    expect(sites.map((s) => s.path)).toEqual(listed.modules.map((m) => m.module));
    const weights = readSafetensors(`${UNET_DIR}/diffusion_pytorch_model.safetensors`).tensors;
    for (const [i, site] of sites.entries()) {
      const m = listed.modules[i] as (typeof listed.modules)[number];
      expect([site.heads, site.innerDim, site.contextDim]).toEqual([m.heads, m.inner_dim, m.cross_attention_dim]);
      const k = site.readProjection('to_k');
      expect(k.shape).toEqual(m.to_k.shape);
      const ref = weights.get(m.to_k.key) as HostTensor;
      const cmp = compareArrays(`${site.path}.to_k`, await k.data(), ref.data, ref.shape, 0);
      expect(cmp.maxAbsDiff, cmp.report).toBe(0);
      k.dispose();
    }
  });
});
