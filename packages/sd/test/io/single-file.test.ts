/**
 * Single-file LDM checkpoints. The test builds a checkpoint from the fixtures (unet-tiny-sd1 + vae-tiny +
 * clip-text-tiny) under original LDM names written out by hand below — not with the library's key map — reads it
 * back and checks every diffusers key and value, and the inferred configs against the fixtures' config.json.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileFormatError, UnsupportedError } from '@erase/core';
import {
  detectSdVersion,
  loadComponent,
  loadSingleFileCheckpoint,
  readJsonConfig,
  writeSafetensors,
  type HostTensor,
  type TensorToWrite,
} from '../../src/io/index';
import { ldmUnetStructure, mapLdmUnetKey } from '../../src/io/ldm-unet-keys';
import { fixture } from '../parity';
import { removeTempDirs, tempDir } from './helpers';

afterAll(removeTempDirs);

import { buildLdmCheckpoint, clip, unet, vae } from './ldm-fixture';

function expectExactly(actual: ReadonlyMap<string, HostTensor>, expected: ReadonlyMap<string, HostTensor>, what: string): void {
  expect([...actual.keys()].sort(), what).toEqual([...expected.keys()].sort());
  for (const [key, e] of expected) {
    const a = actual.get(key) as HostTensor;
    expect(a.shape, key).toEqual(e.shape);
    let same = a.data.length === e.data.length;
    for (let i = 0; same && i < e.data.length; i++) same = Object.is(a.data[i], e.data[i]);
    expect(same, `${what}: ${key} values`).toBe(true);
  }
}

describe('SD 1.x single file from the fixtures', () => {
  const path = join(tempDir(), 'tiny-sd1.safetensors');
  const ldm = buildLdmCheckpoint();
  writeSafetensors(path, ldm, { format: 'pt' });

  it('has every fixture tensor under a distinct LDM name', () => {
    expect(ldm.size).toBe(304 + 124 + 36 + 3);
  });

  const checkpoint = loadSingleFileCheckpoint(path, { textEncoderConfig: { num_attention_heads: 4 } });

  it('detects SD 1.x and lists the ignored keys', () => {
    expect(checkpoint.version).toBe('sd1');
    expect(checkpoint.ignoredKeys).toEqual([
      'alphas_cumprod',
      'cond_stage_model.transformer.text_model.embeddings.position_ids',
      'model_ema.decay',
    ]);
  });

  it('gives every UNet, VAE and text encoder key with the fixture values', () => {
    expectExactly(checkpoint.unet.weights, unet.weights, 'unet');
    expectExactly(checkpoint.vae?.weights ?? new Map(), vae.weights, 'vae');
    expectExactly(checkpoint.textEncoder?.weights ?? new Map(), clip.weights, 'text encoder');
  });

  it('infers the UNet and VAE configs of the fixtures (all but sample_size)', () => {
    const { sample_size: _u, ...unetExpected } = readJsonConfig(fixture('parity/unet-tiny-sd1/config.json'));
    const { sample_size: _u2, ...unetInferred } = checkpoint.unet.config;
    expect(unetInferred).toEqual(unetExpected);
    const { sample_size: _v, ...vaeExpected } = readJsonConfig(fixture('parity/vae-tiny/config.json'));
    const { sample_size: _v2, ...vaeInferred } = checkpoint.vae?.config ?? {};
    expect(vaeInferred).toEqual(vaeExpected);
  });

  it('infers the text config sizes of the fixture', () => {
    const expected = readJsonConfig(fixture('parity/clip-text-tiny/config.json'));
    const inferred = checkpoint.textEncoder?.config ?? {};
    for (const key of ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'vocab_size', 'max_position_embeddings', 'hidden_act', 'eos_token_id', 'bos_token_id', 'pad_token_id', 'layer_norm_eps', 'model_type']) {
      expect(inferred[key], key).toEqual(expected[key]);
    }
  });

  it('asks for the head count when hidden_size is not a multiple of 64', () => {
    expect(() => loadSingleFileCheckpoint(path)).toThrow(UnsupportedError);
  });

  it('applies config overrides', () => {
    const c = loadSingleFileCheckpoint(path, { textEncoderConfig: { num_attention_heads: 4 }, unetConfig: { sample_size: 16 }, vaeConfig: { sample_size: 32 } });
    expect(c.unet.config).toEqual(readJsonConfig(fixture('parity/unet-tiny-sd1/config.json')));
    expect(c.vae?.config).toEqual(readJsonConfig(fixture('parity/vae-tiny/config.json')));
  });

  it('refuses unknown keys inside the model prefixes, naming them', () => {
    const bad = join(tempDir(), 'bad.safetensors');
    const extra = new Map(ldm);
    extra.set('model.diffusion_model.input_blocks.1.0.mystery.weight', { dtype: 'F32', shape: [1], data: [1] });
    extra.set('first_stage_model.encoder.mid.attn_2.q.weight', { dtype: 'F32', shape: [1], data: [1] });
    writeSafetensors(bad, extra);
    let error: unknown;
    try {
      loadSingleFileCheckpoint(bad, { textEncoderConfig: { num_attention_heads: 4 } });
    } catch (e) {
      error = e;
    }
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('model.diffusion_model.input_blocks.1.0.mystery.weight');
    expect((error as Error).message).toContain('first_stage_model.encoder.mid.attn_2.q.weight');
  });
});

describe('SD 2.x (OpenCLIP) text encoder', () => {
  const D = 64;
  const layers = 2;
  const iota = (n: number, scale: number): Float32Array => Float32Array.from({ length: n }, (_, i) => i * scale);
  const openClip = new Map<string, HostTensor | TensorToWrite>([
    ['cond_stage_model.model.token_embedding.weight', { dtype: 'F32', shape: [10, D], data: iota(10 * D, 0.5) }],
    ['cond_stage_model.model.positional_embedding', { dtype: 'F32', shape: [8, D], data: iota(8 * D, 0.25) }],
    ['cond_stage_model.model.ln_final.weight', { dtype: 'F32', shape: [D], data: iota(D, 1) }],
    ['cond_stage_model.model.ln_final.bias', { dtype: 'F32', shape: [D], data: iota(D, 2) }],
    ['cond_stage_model.model.text_projection', { dtype: 'F32', shape: [D, 3], data: iota(D * 3, 1) }],
    ['cond_stage_model.model.logit_scale', { dtype: 'F32', shape: [], data: [4.6] }],
  ]);
  for (let l = 0; l < layers; l++) {
    const p = `cond_stage_model.model.transformer.resblocks.${l}.`;
    openClip.set(`${p}ln_1.weight`, { dtype: 'F32', shape: [D], data: iota(D, 3 + l) });
    openClip.set(`${p}ln_1.bias`, { dtype: 'F32', shape: [D], data: iota(D, 4 + l) });
    openClip.set(`${p}ln_2.weight`, { dtype: 'F32', shape: [D], data: iota(D, 5 + l) });
    openClip.set(`${p}ln_2.bias`, { dtype: 'F32', shape: [D], data: iota(D, 6 + l) });
    openClip.set(`${p}attn.in_proj_weight`, { dtype: 'F32', shape: [3 * D, D], data: iota(3 * D * D, 1 + l) });
    openClip.set(`${p}attn.in_proj_bias`, { dtype: 'F32', shape: [3 * D], data: iota(3 * D, -1 - l) });
    openClip.set(`${p}attn.out_proj.weight`, { dtype: 'F32', shape: [D, D], data: iota(D * D, 7 + l) });
    openClip.set(`${p}attn.out_proj.bias`, { dtype: 'F32', shape: [D], data: iota(D, 8 + l) });
    openClip.set(`${p}mlp.c_fc.weight`, { dtype: 'F32', shape: [4 * D, D], data: iota(4 * D * D, 9 + l) });
    openClip.set(`${p}mlp.c_fc.bias`, { dtype: 'F32', shape: [4 * D], data: iota(4 * D, 10 + l) });
    openClip.set(`${p}mlp.c_proj.weight`, { dtype: 'F32', shape: [D, 4 * D], data: iota(4 * D * D, 11 + l) });
    openClip.set(`${p}mlp.c_proj.bias`, { dtype: 'F32', shape: [D], data: iota(D, 12 + l) });
  }
  const checkpoint = new Map(buildLdmCheckpoint());
  for (const key of [...checkpoint.keys()]) if (key.startsWith('cond_stage_model.')) checkpoint.delete(key);
  for (const [k, v] of openClip) checkpoint.set(k, v);
  const path = join(tempDir(), 'tiny-sd2.safetensors');
  writeSafetensors(path, checkpoint);
  const heads = { attention_head_dim: [2, 4] };

  it('splits in_proj into q/k/v, renames every part and keeps all layers with layers: all', () => {
    const c = loadSingleFileCheckpoint(path, { unetConfig: heads, openClipLayers: 'all' });
    expect(c.version).toBe('sd2');
    const w = c.textEncoder?.weights as Map<string, HostTensor>;
    expect(w.size).toBe(4 + 2 * 16 + 1);
    const get = (k: string): number[] => Array.from((w.get(k) as HostTensor).data);
    // q = rows [0, D), k = rows [D, 2D), v = rows [2D, 3D) of in_proj_weight (layer 1: value = index · 2)
    expect(w.get('text_model.encoder.layers.1.self_attn.q_proj.weight')?.shape).toEqual([D, D]);
    expect(get('text_model.encoder.layers.1.self_attn.q_proj.weight')[5]).toBe(5 * 2);
    expect(get('text_model.encoder.layers.1.self_attn.k_proj.weight')[5]).toBe((D * D + 5) * 2);
    expect(get('text_model.encoder.layers.1.self_attn.v_proj.weight')[D + 1]).toBe((2 * D * D + D + 1) * 2);
    expect(get('text_model.encoder.layers.0.self_attn.v_proj.bias')[3]).toBe((2 * D + 3) * -1);
    expect(get('text_model.encoder.layers.0.mlp.fc1.bias')[7]).toBe(7 * 10);
    expect(get('text_model.encoder.layers.0.mlp.fc2.weight')[7]).toBe(7 * 11);
    expect(get('text_model.encoder.layers.0.layer_norm1.weight')[7]).toBe(7 * 3);
    expect(get('text_model.encoder.layers.1.layer_norm2.bias')[7]).toBe(7 * 7);
    expect(get('text_model.encoder.layers.1.self_attn.out_proj.weight')[7]).toBe(7 * 8);
    expect(get('text_model.embeddings.position_embedding.weight')[9]).toBe(9 * 0.25);
    expect(get('text_model.embeddings.token_embedding.weight')[9]).toBe(9 * 0.5);
    expect(get('text_model.final_layer_norm.bias')[9]).toBe(9 * 2);
    // text_projection [D, P] → text_projection.weight [P, D]: out[j][i] = in[i][j] = (3i + j)
    expect(w.get('text_projection.weight')?.shape).toEqual([3, D]);
    expect(get('text_projection.weight')[2 * D + 5]).toBe(3 * 5 + 2);
    expect(c.textEncoder?.config.num_hidden_layers).toBe(2);
    expect(c.textEncoder?.config.num_attention_heads).toBe(1);
    expect(c.textEncoder?.config.hidden_act).toBe('gelu');
    expect(c.textEncoder?.config.projection_dim).toBe(3);
    expect(c.unet.config.attention_head_dim).toEqual([2, 4]);
    expect(c.ignoredKeys).toContain('cond_stage_model.model.logit_scale');
  });

  it('drops the last layer and text_projection by default (diffusers SD 2 text encoder = 23 of 24 layers)', () => {
    const c = loadSingleFileCheckpoint(path, { unetConfig: heads });
    const w = c.textEncoder?.weights as Map<string, HostTensor>;
    expect([...w.keys()].some((k) => k.startsWith('text_model.encoder.layers.1.'))).toBe(false);
    expect(w.has('text_projection.weight')).toBe(false);
    expect(c.textEncoder?.config.num_hidden_layers).toBe(1);
    expect(c.ignoredKeys).toContain('cond_stage_model.model.transformer.resblocks.1.attn.in_proj_weight');
  });

  it('needs head counts for an SD 2.x UNet whose channels are not multiples of 64', () => {
    expect(() => loadSingleFileCheckpoint(path)).toThrow(UnsupportedError);
  });
});

describe('SD version detection from headers', () => {
  const entries = (list: [string, number[]][]): Map<string, { shape: number[] }> => new Map(list.map(([k, s]) => [k, { shape: s }]));
  const toK = (width: number): [string, number[]] => ['model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight', [320, width]];
  const clipL: [string, number[]] = ['cond_stage_model.transformer.text_model.embeddings.token_embedding.weight', [49408, 768]];
  const openClip: [string, number[]] = ['cond_stage_model.model.token_embedding.weight', [49408, 1024]];

  it('uses the cross-attention width and the text encoder keys', () => {
    expect(detectSdVersion(entries([toK(768), clipL]))).toBe('sd1');
    expect(detectSdVersion(entries([toK(1024), openClip]))).toBe('sd2');
    expect(detectSdVersion(entries([toK(768)]))).toBe('sd1');
    expect(detectSdVersion(entries([toK(1024)]))).toBe('sd2');
    expect(detectSdVersion(entries([toK(32), clipL]))).toBe('sd1');
    expect(detectSdVersion(entries([toK(32), openClip]))).toBe('sd2');
  });

  it('rejects contradictions, SDXL, missing UNets and undecidable files', () => {
    expect(() => detectSdVersion(entries([toK(1024), clipL]), 'x.safetensors')).toThrow(FileFormatError);
    expect(() => detectSdVersion(entries([toK(768), clipL, openClip]))).toThrow(FileFormatError);
    expect(() => detectSdVersion(entries([toK(2048), ['conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight', [49408, 768]]]))).toThrow(UnsupportedError);
    expect(() => detectSdVersion(entries([toK(2048), ['model.diffusion_model.label_emb.0.0.weight', [1280, 2816]]]))).toThrow(UnsupportedError);
    expect(() => detectSdVersion(entries([clipL]))).toThrow(FileFormatError);
    expect(() => detectSdVersion(entries([toK(32)]))).toThrow(UnsupportedError);
  });
});

describe('UNet key map on the SD 1.5 layout (4 levels, 2 layers per block)', () => {
  // The block indices of SD 1.5's LDM UNet (channel_mult 1,2,4,4; attention at levels 0-2), as in its checkpoints.
  const keys: string[] = ['input_blocks.0.0.weight'];
  for (const i of [1, 2, 4, 5, 7, 8, 10, 11]) keys.push(`input_blocks.${i}.0.in_layers.0.weight`);
  for (const i of [1, 2, 4, 5, 7, 8]) keys.push(`input_blocks.${i}.1.proj_in.weight`);
  for (const i of [3, 6, 9]) keys.push(`input_blocks.${i}.0.op.weight`);
  for (let i = 0; i < 12; i++) keys.push(`output_blocks.${i}.0.in_layers.0.weight`);
  for (let i = 3; i < 12; i++) keys.push(`output_blocks.${i}.1.proj_in.weight`);
  keys.push('output_blocks.2.1.conv.weight', 'output_blocks.5.2.conv.weight', 'output_blocks.8.2.conv.weight');
  keys.push('middle_block.0.in_layers.0.weight', 'middle_block.1.proj_in.weight', 'middle_block.2.in_layers.0.weight');

  it('reads the structure and maps the known SD 1.5 names', () => {
    const s = ldmUnetStructure('sd15', keys);
    expect(s).toEqual({ levels: 4, layersPerBlock: 2, midHasAttention: true });
    const cases: [string, string][] = [
      ['input_blocks.11.0.out_layers.3.weight', 'down_blocks.3.resnets.1.conv2.weight'],
      ['input_blocks.9.0.op.bias', 'down_blocks.2.downsamplers.0.conv.bias'],
      ['input_blocks.8.1.transformer_blocks.0.attn2.to_k.weight', 'down_blocks.2.attentions.1.transformer_blocks.0.attn2.to_k.weight'],
      ['output_blocks.2.1.conv.weight', 'up_blocks.0.upsamplers.0.conv.weight'],
      ['output_blocks.5.2.conv.weight', 'up_blocks.1.upsamplers.0.conv.weight'],
      ['output_blocks.5.1.proj_out.weight', 'up_blocks.1.attentions.2.proj_out.weight'],
      ['output_blocks.11.1.norm.bias', 'up_blocks.3.attentions.2.norm.bias'],
      ['output_blocks.6.0.skip_connection.weight', 'up_blocks.2.resnets.0.conv_shortcut.weight'],
      ['middle_block.2.emb_layers.1.weight', 'mid_block.resnets.1.time_emb_proj.weight'],
      ['middle_block.1.transformer_blocks.0.ff.net.0.proj.weight', 'mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj.weight'],
    ];
    for (const [ldm, diffusers] of cases) expect(mapLdmUnetKey(ldm, s), ldm).toBe(diffusers);
    expect(mapLdmUnetKey('output_blocks.3.2.conv.weight', s)).toBeUndefined();
    expect(mapLdmUnetKey('input_blocks.3.1.proj_in.weight', s)).toBeUndefined();
  });

  it('rejects blocks that do not form levels', () => {
    expect(() => ldmUnetStructure('odd', keys.filter((k) => !k.startsWith('output_blocks.11.')))).toThrow(FileFormatError);
    expect(() => ldmUnetStructure('odd', keys.filter((k) => !k.startsWith('input_blocks.6.')))).toThrow(FileFormatError);
  });
});
