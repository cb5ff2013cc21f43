/**
 * Runtime LoRA parity with diffusers 0.25.1 (../shared/fixtures/parity/lora-tiny): the diffusers-format file parsed
 * into the canonical map, loaded at scale 1 and 0.5, on a batch of two timesteps, exported back, detached, and fused.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLora } from '../../src/io/lora';
import { readSafetensors } from '../../src/io/safetensors';
import type { HostTensor } from '../../src/io/safetensors';
import { Rng } from '@erase/core';
import { UNet2DConditionModel } from '../../src/unet/unet-2d-condition';
import { compareArrays } from '../parity';
import { BACKENDS, LORA_DIR, loadTinyUnet, readCase, readDiffusersLora, tinyConfig, tinyWeights, useBackend } from './helpers';

const ATOL = 1e-4;
const LORA_FILE = `${LORA_DIR}/pytorch_lora_weights.safetensors`;

async function check(label: string, unet: UNet2DConditionModel, caseFile: string, which = 'out'): Promise<void> {
  const c = readCase(`${LORA_DIR}/${caseFile}`);
  const out = unet.predict(c.latents, c.timesteps, c.context);
  const expected = c.expected.get(which) as { data: Float32Array; shape: number[] };
  const cmp = compareArrays(label, await out.data(), expected.data, expected.shape, ATOL);
  console.log(cmp.report);
  tf.dispose([out, c.latents, c.timesteps, c.context]);
  expect(cmp.maxAbsDiff, cmp.report).toBeLessThanOrEqual(ATOL);
}

describe.each(BACKENDS)('runtime LoRA parity (%s)', (backend) => {
  let unet: UNet2DConditionModel;
  const lora = readDiffusersLora(LORA_FILE);

  beforeAll(async () => {
    await useBackend(backend);
    unet = loadTinyUnet();
  });
  afterAll(() => unet.dispose());

  it('parses 48 modules (12 attention modules × to_q/to_k/to_v/to_out.0) of rank 4', () => {
    expect(lora.size).toBe(48);
    for (const layer of lora.values()) expect(layer.down.shape[0]).toBe(4);
  });

  it('case_t10_lora (scale 1), case_t10_lora_scale05, case_tbatch_lora', async () => {
    const adapter = unet.loadLora(lora, { source: LORA_FILE });
    expect(adapter.variables).toHaveLength(96);
    await check(`${backend} t10_lora`, unet, 'case_t10_lora.safetensors');
    adapter.scale = 0.5;
    await check(`${backend} t10_lora_scale05`, unet, 'case_t10_lora_scale05.safetensors');
    adapter.scale = 1;
    await check(`${backend} tbatch_lora`, unet, 'case_tbatch_lora.safetensors');
  });

  it.each(['pytorch_lora_weights.safetensors', 'lora_legacy_attn_procs.safetensors'])(
    'the library reader (readLora) of %s gives diffusers outputs at scale 1 and 0.5',
    async (file) => {
      const { weights, format } = readLora(`${LORA_DIR}/${file}`);
      expect(format).toBe(file.startsWith('pytorch') ? 'diffusers' : 'attn-procs');
      expect(weights.unet.size).toBe(48);
      unet.lora?.detach();
      const adapter = unet.loadLora(weights.unet, { source: file });
      await check(`${backend} ${file} t10_lora`, unet, 'case_t10_lora.safetensors');
      adapter.scale = 0.5;
      await check(`${backend} ${file} t10_lora_scale05`, unet, 'case_t10_lora_scale05.safetensors');
      adapter.detach();
      unet.loadLora(lora, { source: LORA_FILE }); // the state the next test expects
    },
  );

  it('exportLora returns the loaded factors bit for bit; detach restores the base model (out_base)', async () => {
    const exported = unet.exportLora();
    expect([...exported.keys()].sort()).toEqual([...lora.keys()].sort());
    for (const [path, layer] of lora) {
      const e = exported.get(path);
      expect(e?.down.shape).toEqual(layer.down.shape);
      expect(e?.up.shape).toEqual(layer.up.shape);
      expect(Array.from(e?.down.data ?? [])).toEqual(Array.from(layer.down.data));
      expect(Array.from(e?.up.data ?? [])).toEqual(Array.from(layer.up.data));
      expect(e?.alpha).toBe(4);
    }
    unet.lora?.detach();
    expect(unet.lora).toBeUndefined();
    await check(`${backend} base after detach`, unet, 'case_t10_lora.safetensors', 'out_base');
  });

  it('fuse() merges W += B·A into the base weights (case_t10_lora, atol 1e-4)', async () => {
    const before = unet.exportWeights();
    const adapter = unet.loadLora(lora);
    adapter.fuse();
    expect(adapter.variables.every((v) => v.isDisposed)).toBe(true);
    expect(unet.lora).toBeUndefined();
    await check(`${backend} t10_lora fused`, unet, 'case_t10_lora.safetensors');
    // The fused to_k of one module equals W + up @ down computed here on the host.
    const path = 'mid_block.attentions.0.transformer_blocks.0.attn2.to_k';
    const w = before.get(`${path}.weight`) as HostTensor;
    const layer = lora.get(path) as { down: HostTensor; up: HostTensor };
    const [out, inF] = w.shape as [number, number];
    const expected = new Float32Array(out * inF);
    for (let o = 0; o < out; o++)
      for (let i = 0; i < inF; i++) {
        let acc = w.data[o * inF + i] as number;
        for (let r = 0; r < 4; r++) acc += (layer.up.data[o * 4 + r] as number) * (layer.down.data[r * inF + i] as number);
        expected[o * inF + i] = acc;
      }
    const fused = unet.exportWeights().get(`${path}.weight`) as HostTensor;
    const cmp = compareArrays(`${backend} fused ${path}`, fused.data, expected, w.shape, 1e-6);
    expect(cmp.maxAbsDiff, cmp.report).toBeLessThanOrEqual(1e-6);
  });
});

describe('LoRA on 1×1 convs (kohya-style proj_in/proj_out on SD 1.x, wasm)', () => {
  beforeAll(async () => useBackend('wasm'));

  it('[r, in, 1, 1] factors on proj_in/proj_out equal editing the conv weights by W += (α/r)·B·A on the host', async () => {
    const rng = new Rng(11);
    const factors = new Map<string, { down: HostTensor; up: HostTensor; alpha: number }>();
    const edited = new Map(tinyWeights());
    for (const key of tinyWeights().keys()) {
      if (!/attentions\.\d\.proj_(in|out)\.weight$/.test(key)) continue;
      const w = tinyWeights().get(key) as HostTensor;
      const [out, inF] = w.shape as [number, number];
      const r = 2;
      const down = Float32Array.from({ length: r * inF }, () => rng.normal() / Math.sqrt(inF));
      const up = Float32Array.from({ length: out * r }, () => 0.2 * rng.normal());
      factors.set(key.slice(0, -'.weight'.length), {
        down: { dtype: 'float32', fileDtype: 'F32', shape: [r, inF, 1, 1], data: down },
        up: { dtype: 'float32', fileDtype: 'F32', shape: [out, r, 1, 1], data: up },
        alpha: 1,
      });
      const merged = Float32Array.from(w.data as Float32Array);
      for (let o = 0; o < out; o++)
        for (let i = 0; i < inF; i++) {
          let acc = 0;
          for (let k = 0; k < r; k++) acc += (up[o * r + k] as number) * (down[k * inF + i] as number);
          merged[o * inF + i] = (merged[o * inF + i] as number) + 0.5 * acc; // α / r = 1 / 2
        }
      edited.set(key, { ...w, data: merged });
    }
    expect(factors.size).toBe(12);
    const c = readCase(`${LORA_DIR}/case_t10_lora.safetensors`);
    const unet = loadTinyUnet();
    unet.loadLora(factors);
    const runtime = unet.predict(c.latents, c.timesteps, c.context);
    expect(unet.exportLora().get('mid_block.attentions.0.proj_in')?.down.shape).toEqual([2, 64]);
    const reference = UNet2DConditionModel.fromWeights(tinyConfig(), edited);
    const expected = reference.predict(c.latents, c.timesteps, c.context);
    const cmp = compareArrays('1×1-conv LoRA vs edited weights', await runtime.data(), await expected.data(), runtime.shape, 1e-5);
    console.log(cmp.report);
    expect(cmp.maxAbsDiff, cmp.report).toBeLessThanOrEqual(1e-5);
    const base = c.expected.get('out_base') as { data: Float32Array };
    expect(compareArrays('changed', await runtime.data(), base.data, runtime.shape, 0).maxAbsDiff).toBeGreaterThan(1e-3);
    (unet.lora as { fuse(): void }).fuse();
    const fused = unet.predict(c.latents, c.timesteps, c.context);
    const cmpFused = compareArrays('1×1-conv LoRA fused', await fused.data(), await expected.data(), fused.shape, 1e-5);
    expect(cmpFused.maxAbsDiff, cmpFused.report).toBeLessThanOrEqual(1e-5);
    tf.dispose([runtime, expected, fused, c.latents, c.timesteps, c.context]);
    unet.dispose();
    reference.dispose();
  });
});

describe('LoRA file layout and errors', () => {
  it('the legacy attention-processor file holds the same tensors', () => {
    const legacy = readSafetensors(`${LORA_DIR}/lora_legacy_attn_procs.safetensors`).tensors;
    const lora = readDiffusersLora(LORA_FILE);
    const names: Record<string, string> = { to_q: 'to_q_lora', to_k: 'to_k_lora', to_v: 'to_v_lora', 'to_out.0': 'to_out_lora' };
    for (const [path, layer] of lora) {
      const m = /^(.*)\.(to_q|to_k|to_v|to_out\.0)$/.exec(path) as RegExpExecArray;
      const down = legacy.get(`${m[1]}.processor.${names[m[2] as string]}.down.weight`) as HostTensor;
      expect(Array.from(down.data)).toEqual(Array.from(layer.down.data));
    }
  });
});
