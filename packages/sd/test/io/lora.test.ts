/**
 * LoRA file formats: the two fixture files read to the same canonical weights; round trips through every format are
 * exact; key names match the formats' specifications (written out by hand); bad files are refused.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileFormatError, UnsupportedError } from '@erase/core';
import {
  detectLoraFormat,
  guessModulePath,
  loraToTensors,
  parseLora,
  readLora,
  readSafetensors,
  writeLora,
  type HostTensor,
  type LoraFormat,
  type LoraLayer,
  type LoraWeightsByComponent,
} from '../../src/io/index';
import { fixture } from '../parity';
import { removeTempDirs, tempDir, writeRaw } from './helpers';

afterAll(removeTempDirs);

const info = JSON.parse(readFileSync(fixture('parity/lora-tiny/info.json'), 'utf8')) as { attention_modules: string[]; n_tensors: number };
const unetWeights = readSafetensors(fixture('parity/unet-tiny-sd1/diffusion_pytorch_model.safetensors')).tensors;
const unetKeys = [...unetWeights.keys()];

function sameTensor(a: HostTensor, b: HostTensor): boolean {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i]) || a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (!Object.is(a.data[i], b.data[i])) return false;
  return true;
}

function expectSameLora(actual: LoraWeightsByComponent, expected: LoraWeightsByComponent, what: string): void {
  for (const component of ['unet', 'textEncoder'] as const) {
    expect([...actual[component].keys()].sort(), `${what} ${component} modules`).toEqual([...expected[component].keys()].sort());
    for (const [module, e] of expected[component]) {
      const a = actual[component].get(module) as LoraLayer;
      expect(sameTensor(a.down, e.down), `${what} ${module} down`).toBe(true);
      expect(sameTensor(a.up, e.up), `${what} ${module} up`).toBe(true);
      expect(a.alpha, `${what} ${module} alpha`).toBe(e.alpha);
    }
  }
}

describe('the lora-tiny fixture', () => {
  const diffusers = readLora(fixture('parity/lora-tiny/pytorch_lora_weights.safetensors'));
  const legacy = readLora(fixture('parity/lora-tiny/lora_legacy_attn_procs.safetensors'));

  it('detects the formats', () => {
    expect(diffusers.format).toBe('diffusers');
    expect(legacy.format).toBe('attn-procs');
  });

  it('gives 48 modules (96 tensors) on the 12 attention modules × to_q/to_k/to_v/to_out.0', () => {
    const expected = info.attention_modules.flatMap((m) => ['to_q', 'to_k', 'to_v', 'to_out.0'].map((p) => `${m}.${p}`)).sort();
    expect([...diffusers.weights.unet.keys()].sort()).toEqual(expected);
    expect(diffusers.weights.unet.size * 2).toBe(info.n_tensors);
    expect(diffusers.weights.textEncoder.size).toBe(0);
    for (const [module, layer] of diffusers.weights.unet) {
      const base = unetWeights.get(`${module}.weight`) as HostTensor;
      expect(layer.down.shape, module).toEqual([4, base.shape[1]]);
      expect(layer.up.shape, module).toEqual([base.shape[0], 4]);
      expect(layer.alpha).toBeUndefined();
    }
  });

  it('reads both files to identical canonical weights', () => {
    expectSameLora(legacy.weights, diffusers.weights, 'legacy vs diffusers');
  });

  it.each(['diffusers', 'peft', 'attn-procs', 'kohya'] as LoraFormat[])('round-trips exactly through %s', (format) => {
    const path = join(tempDir(), `${format}.safetensors`);
    writeLora(path, diffusers.weights, { format });
    const back = readLora(path, { knownModules: { unet: unetKeys } });
    expect(back.format).toBe(format);
    expectSameLora(back.weights, diffusers.weights, format);
    expect(readSafetensors(path).tensors.size).toBe(96);
  });

  it('resolves kohya names without a module list too', () => {
    const path = join(tempDir(), 'kohya.safetensors');
    writeLora(path, diffusers.weights, { format: 'kohya' });
    expectSameLora(readLora(path).weights, diffusers.weights, 'kohya guessed');
  });

  it('writes the diffusers format byte-identical in content to the fixture (same keys and values)', () => {
    const written = join(tempDir(), 'pytorch_lora_weights.safetensors');
    writeLora(written, diffusers.weights, { format: 'diffusers' });
    const a = readSafetensors(written).tensors;
    const b = readSafetensors(fixture('parity/lora-tiny/pytorch_lora_weights.safetensors')).tensors;
    expect([...a.keys()]).toEqual([...b.keys()]);
    for (const [k, t] of b) expect(sameTensor(a.get(k) as HostTensor, t), k).toBe(true);
  });
});

// A synthetic LoRA with text encoder modules, alphas, a conv LoRA and a feed-forward module.
function tensor(shape: number[], seed: number): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'float32', fileDtype: 'F32', shape, data: Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(seed * 31 + i) * 0.1)) };
}
const synthetic: LoraWeightsByComponent = {
  unet: new Map<string, LoraLayer>([
    ['down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q', { down: tensor([2, 32], 1), up: tensor([32, 2], 2), alpha: 1 }],
    ['down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_out.0', { down: tensor([2, 32], 3), up: tensor([32, 2], 4) }],
    ['down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj', { down: tensor([2, 32], 5), up: tensor([256, 2], 6), alpha: 8 }],
    ['down_blocks.0.attentions.0.proj_in', { down: tensor([2, 32, 1, 1], 7), up: tensor([32, 2, 1, 1], 8), alpha: 2 }],
    ['down_blocks.0.resnets.0.time_emb_proj', { down: tensor([2, 128], 9), up: tensor([32, 2], 10), alpha: 0.5 }],
  ]),
  textEncoder: new Map<string, LoraLayer>([
    ['text_model.encoder.layers.0.self_attn.q_proj', { down: tensor([2, 32], 11), up: tensor([32, 2], 12), alpha: 1.5 }],
    ['text_model.encoder.layers.1.self_attn.out_proj', { down: tensor([2, 32], 13), up: tensor([32, 2], 14) }],
    ['text_model.encoder.layers.1.mlp.fc1', { down: tensor([2, 32], 15), up: tensor([37, 2], 16), alpha: 4 }],
  ]),
};
const attentionOnly: LoraWeightsByComponent = {
  unet: new Map([...synthetic.unet].filter(([m]) => /\.(to_q|to_k|to_v|to_out\.0)$/.test(m)).map(([m, l]) => [m, { down: l.down, up: l.up }])),
  textEncoder: new Map([...synthetic.textEncoder].filter(([m]) => /_proj$/.test(m)).map(([m, l]) => [m, { down: l.down, up: l.up }])),
};

/** What a file without alpha keys holds for `weights`: up · alpha / r (float32), alpha undefined. */
function folded(weights: LoraWeightsByComponent): LoraWeightsByComponent {
  const fold = (layers: Map<string, LoraLayer>): Map<string, LoraLayer> =>
    new Map(
      [...layers].map(([m, l]) => {
        const r = l.down.shape[0] as number;
        const factor = (l.alpha ?? r) / r;
        const up: HostTensor = { ...l.up, data: Float32Array.from(l.up.data, (v) => Math.fround(v * factor)) };
        return [m, { down: l.down, up }];
      }),
    );
  return { unet: fold(weights.unet), textEncoder: fold(weights.textEncoder) };
}

describe('synthetic LoRA with a text encoder, alphas and conv layers', () => {
  it.each(['diffusers', 'peft', 'kohya'] as LoraFormat[])('round-trips through %s (with and without a module list): kohya exactly, the others with alpha / r folded into up', (format) => {
    const path = join(tempDir(), `${format}.safetensors`);
    writeLora(path, synthetic, { format });
    const expected = format === 'kohya' ? synthetic : folded(synthetic);
    expectSameLora(readLora(path).weights, expected, format);
    const known = {
      unet: [...synthetic.unet.keys()].map((m) => `${m}.weight`),
      textEncoder: [...synthetic.textEncoder.keys()].map((m) => `${m}.weight`),
    };
    expectSameLora(readLora(path, { knownModules: known }).weights, expected, `${format} with list`);
  });

  it.each(['diffusers', 'peft', 'attn-procs'] as LoraFormat[])('%s files pass diffusers load_lora_weights\' key check (every key holds "lora")', (format) => {
    const weights = format === 'attn-procs' ? attentionOnly : synthetic;
    const keys = [...loraToTensors(weights, format).keys()];
    expect(keys.length).toBe((weights.unet.size + weights.textEncoder.size) * 2);
    expect(keys.filter((k) => !k.includes('lora'))).toEqual([]);
  });

  it('folds alpha without changing the update ΔW = (alpha / r) · up · down', () => {
    const layer = synthetic.unet.get('down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj') as LoraLayer; // alpha 8, r 2
    const back = readLora((() => {
      const path = join(tempDir(), 'fold.safetensors');
      writeLora(path, { unet: new Map([['m.to_q', layer]]), textEncoder: new Map() }, { format: 'peft' });
      return path;
    })()).weights.unet.get('m.to_q') as LoraLayer;
    expect(back.alpha).toBeUndefined();
    const [out, r] = layer.up.shape as [number, number];
    const inF = layer.down.shape[1] as number;
    for (const [o, i] of [[0, 0], [17, 5], [out - 1, inF - 1]] as const) {
      let want = 0;
      let got = 0;
      for (let k = 0; k < r; k++) {
        want += (8 / r) * (layer.up.data[o * r + k] as number) * (layer.down.data[k * inF + i] as number);
        got += (back.up.data[o * r + k] as number) * (back.down.data[k * inF + i] as number);
      }
      expect(got).toBeCloseTo(want, 6);
    }
  });

  it('round-trips attention modules through attn-procs, and refuses what that format cannot hold', () => {
    const path = join(tempDir(), 'legacy.safetensors');
    writeLora(path, attentionOnly, { format: 'attn-procs' });
    expect(readLora(path).format).toBe('attn-procs');
    expectSameLora(readLora(path).weights, attentionOnly, 'attn-procs');
    expect(() => writeLora(path, synthetic, { format: 'attn-procs' })).toThrow(UnsupportedError);
    // alpha ≠ r: that format has no alpha, so it is folded into up like diffusers/peft
    const alpha: LoraWeightsByComponent = { unet: new Map([['a.attn1.to_q', { down: tensor([2, 4], 1), up: tensor([4, 2], 2), alpha: 3 }]]), textEncoder: new Map() };
    writeLora(path, alpha, { format: 'attn-procs' });
    expectSameLora(readLora(path).weights, folded(alpha), 'attn-procs alpha 3');
  });

  it('writes the key names each format specifies', () => {
    const layer = { down: tensor([2, 4], 1), up: tensor([4, 2], 2), alpha: 2 };
    const one: LoraWeightsByComponent = {
      unet: new Map([['down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0', layer]]),
      textEncoder: new Map([['text_model.encoder.layers.0.self_attn.q_proj', layer]]),
    };
    const keys = (format: LoraFormat, weights = one): string[] => [...loraToTensors(weights, format).keys()].sort();
    expect(keys('diffusers')).toEqual([
      'text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_linear_layer.down.weight',
      'text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_linear_layer.up.weight',
      'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.lora.down.weight',
      'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.lora.up.weight',
    ]);
    expect(keys('peft')).toEqual([
      'text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight',
      'text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_B.weight',
      'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.lora_A.weight',
      'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.lora_B.weight',
    ]);
    expect(keys('kohya')).toEqual([
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj.alpha',
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight',
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight',
      'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0.alpha',
      'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0.lora_down.weight',
      'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0.lora_up.weight',
    ]);
    const noAlpha: LoraWeightsByComponent = {
      unet: new Map([['down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0', { down: layer.down, up: layer.up }]]),
      textEncoder: new Map([['text_model.encoder.layers.0.self_attn.q_proj', { down: layer.down, up: layer.up }]]),
    };
    expect(keys('attn-procs', noAlpha)).toEqual([
      'down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.down.weight',
      'down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.up.weight',
      'text_encoder.text_model.encoder.layers.0.self_attn.to_q_lora.down.weight',
      'text_encoder.text_model.encoder.layers.0.self_attn.to_q_lora.up.weight',
    ]);
  });
});

describe('a file that is not a LoRA', () => {
  it('is refused from its key names, before any tensor is decoded', () => {
    // an I64 value beyond int32 makes decoding fail (UnsupportedError): the FileFormatError proves nothing was decoded
    const path = join(tempDir(), 'checkpoint.safetensors');
    const data = new Uint8Array(8);
    new DataView(data.buffer).setBigInt64(0, 2n ** 40n, true);
    writeRaw(path, { 'model.diffusion_model.input_blocks.0.0.weight': { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, data);
    expect(() => readSafetensors(path)).toThrow(UnsupportedError);
    expect(() => readLora(path)).toThrow(FileFormatError);
    expect(() => readLora(path)).toThrow(/no LoRA format matches every key/);
  });
});

describe('reading other spellings', () => {
  const down = tensor([2, 8], 1);
  const up = tensor([8, 2], 2);
  const scalar = (v: number): HostTensor => ({ dtype: 'float32', fileDtype: 'F16', shape: [], data: Float32Array.from([v]) });

  it('PEFT with base_model.model. prefixes and adapter names', () => {
    const parsed = parseLora(
      new Map([
        ['base_model.model.mid_block.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.default.weight', down],
        ['base_model.model.mid_block.attentions.0.transformer_blocks.0.attn2.to_k.lora_B.default.weight', up],
        ['base_model.model.text_model.encoder.layers.3.self_attn.v_proj.lora_A.weight', down],
        ['base_model.model.text_model.encoder.layers.3.self_attn.v_proj.lora_B.weight', up],
      ]),
    );
    expect(parsed.format).toBe('peft');
    expect([...parsed.weights.unet.keys()]).toEqual(['mid_block.attentions.0.transformer_blocks.0.attn2.to_k']);
    expect([...parsed.weights.textEncoder.keys()]).toEqual(['text_model.encoder.layers.3.self_attn.v_proj']);
  });

  it('kohya with F16 scalar alphas and text encoder names', () => {
    const parsed = parseLora(
      new Map([
        ['lora_te_text_model_encoder_layers_11_mlp_fc2.lora_down.weight', down],
        ['lora_te_text_model_encoder_layers_11_mlp_fc2.lora_up.weight', up],
        ['lora_te_text_model_encoder_layers_11_mlp_fc2.alpha', scalar(1)],
        ['lora_unet_up_blocks_1_attentions_2_transformer_blocks_0_ff_net_2.lora_down.weight', down],
        ['lora_unet_up_blocks_1_attentions_2_transformer_blocks_0_ff_net_2.lora_up.weight', up],
      ]),
    );
    expect(parsed.format).toBe('kohya');
    expect(parsed.weights.textEncoder.get('text_model.encoder.layers.11.mlp.fc2')?.alpha).toBe(1);
    expect([...parsed.weights.unet.keys()]).toEqual(['up_blocks.1.attentions.2.transformer_blocks.0.ff.net.2']);
  });

  it('guesses dotted paths from kohya names', () => {
    expect(guessModulePath('down_blocks_1_resnets_0_conv_shortcut')).toBe('down_blocks.1.resnets.0.conv_shortcut');
    expect(guessModulePath('mid_block_attentions_0_transformer_blocks_0_attn1_to_out_0')).toBe('mid_block.attentions.0.transformer_blocks.0.attn1.to_out.0');
    expect(guessModulePath('text_model_encoder_layers_0_self_attn_out_proj')).toBe('text_model.encoder.layers.0.self_attn.out_proj');
    expect(guessModulePath('up_blocks_0_resnets_2_time_emb_proj')).toBe('up_blocks.0.resnets.2.time_emb_proj');
  });
});

describe('bad LoRA files', () => {
  const down = tensor([2, 8], 1);
  const up = tensor([8, 2], 2);
  const fail = (tensors: Map<string, HostTensor>, options = {}): unknown => {
    try {
      parseLora(tensors, { source: 'my-lora.safetensors', ...options });
    } catch (e) {
      return e;
    }
    return undefined;
  };

  it('a module without its up matrix', () => {
    const e = fail(new Map([['unet.a.to_q.lora.down.weight', down]]));
    expect(FileFormatError.isInstance(e)).toBe(true);
    expect((e as Error).message).toContain('my-lora.safetensors');
  });

  it('ranks that disagree', () => {
    expect(FileFormatError.isInstance(fail(new Map([['unet.a.to_q.lora.down.weight', down], ['unet.a.to_q.lora.up.weight', tensor([8, 3], 1)]])))).toBe(true);
  });

  it('mixed formats and unknown keys', () => {
    const e = fail(new Map([['unet.a.to_q.lora.down.weight', down], ['unet.a.to_q.lora.up.weight', up], ['unet.b.to_q.lora_A.weight', down]]));
    expect(FileFormatError.isInstance(e)).toBe(true);
    expect((e as Error).message).toContain('unet.b.to_q.lora_A.weight');
    expect(FileFormatError.isInstance(fail(new Map([['model.weight', down]])))).toBe(true);
    expect(FileFormatError.isInstance(fail(new Map()))).toBe(true);
  });

  it('a non-scalar alpha', () => {
    expect(FileFormatError.isInstance(fail(new Map([['unet.a.to_q.lora.down.weight', down], ['unet.a.to_q.lora.up.weight', up], ['unet.a.to_q.alpha', down]])))).toBe(true);
  });

  it('kohya names outside the given module list, or ambiguous in it', () => {
    const kohya = new Map([['lora_unet_a_b_to_q.lora_down.weight', down], ['lora_unet_a_b_to_q.lora_up.weight', up]]);
    expect(FileFormatError.isInstance(fail(kohya, { knownModules: { unet: ['x.to_q.weight'] } }))).toBe(true);
    expect(FileFormatError.isInstance(fail(kohya, { knownModules: { unet: ['a.b.to_q.weight', 'a_b.to_q.weight'] } }))).toBe(true);
    const ok = parseLora(kohya, { knownModules: { unet: ['a_b.to_q.weight', 'c.to_q.weight'] } });
    expect([...ok.weights.unet.keys()]).toEqual(['a_b.to_q']);
  });

  it('LyCORIS and SDXL second text encoder keys are unsupported', () => {
    expect(() => detectLoraFormat(['lora_unet_a.hada_w1_a', 'lora_unet_a.hada_w1_b'])).toThrow(UnsupportedError);
    expect(UnsupportedError.isInstance(fail(new Map([['lora_te2_text_model_x.lora_down.weight', down]])))).toBe(true);
  });
});
