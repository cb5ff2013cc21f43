/**
 * diffusers folders: loading the fixture components, writing a pipeline and loading it back, variants, sharded
 * weights, refusing to write into non-empty folders.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidOptionError } from '@erase/core';
import {
  findComponentWeights,
  loadComponent,
  loadPipeline,
  readJsonConfig,
  readModelIndex,
  readSafetensors,
  writeDiffusersComponent,
  writeDiffusersPipeline,
  writeModelIndex,
  writePipelineComponent,
  writeSafetensors,
  type HostTensor,
} from '../../src/io/index';
import { fixture } from '../parity';
import { removeTempDirs, tempDir } from './helpers';

afterAll(removeTempDirs);

function expectSameWeights(actual: ReadonlyMap<string, HostTensor>, expected: ReadonlyMap<string, HostTensor>): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [key, e] of expected) {
    const a = actual.get(key) as HostTensor;
    expect(a.shape, key).toEqual(e.shape);
    expect(a.dtype, key).toBe(e.dtype);
    expect(Array.from(a.data).every((v, i) => Object.is(v, e.data[i])), key).toBe(true);
  }
}

const unetDir = fixture('parity/unet-tiny-sd1');
const vaeDir = fixture('parity/vae-tiny');
const clipDir = fixture('parity/clip-text-tiny');

describe('loadComponent on the fixtures', () => {
  it('loads the UNet (diffusion_pytorch_model.safetensors) and its config', () => {
    const unet = loadComponent(unetDir);
    expect(unet.config._class_name).toBe('UNet2DConditionModel');
    expect(unet.config.block_out_channels).toEqual([32, 64]);
    expect(unet.weights.size).toBe(304);
    expect(unet.files).toEqual([join(unetDir, 'diffusion_pytorch_model.safetensors')]);
    expectSameWeights(unet.weights, readSafetensors(join(unetDir, 'diffusion_pytorch_model.safetensors')).tensors);
  });

  it('loads the CLIP text encoder (model.safetensors)', () => {
    const text = loadComponent(clipDir);
    expect(text.config.model_type).toBe('clip_text_model');
    expect(text.weights.size).toBe(36);
    expect(text.files).toEqual([join(clipDir, 'model.safetensors')]);
  });
});

describe('writing and reading a pipeline', () => {
  it('writes a pipeline the loader reads back identically', () => {
    const root = join(tempDir(), 'pipe');
    const unet = loadComponent(unetDir);
    const vae = loadComponent(vaeDir);
    const text = loadComponent(clipDir);
    const modelIndex = {
      _class_name: 'StableDiffusionPipeline',
      _diffusers_version: '0.25.1',
      unet: ['diffusers', 'UNet2DConditionModel'],
      vae: ['diffusers', 'AutoencoderKL'],
      text_encoder: ['transformers', 'CLIPTextModel'],
      tokenizer: ['transformers', 'CLIPTokenizer'],
      scheduler: ['diffusers', 'DDIMScheduler'],
      safety_checker: [null, null],
      feature_extractor: [null, null],
      requires_safety_checker: false,
    };
    const written = writeDiffusersPipeline(root, {
      modelIndex,
      components: {
        unet: { config: unet.config, weights: unet.weights },
        vae: { config: vae.config, weights: vae.weights },
        text_encoder: { config: text.config, weights: text.weights },
        scheduler: { config: { _class_name: 'DDIMScheduler', num_train_timesteps: 1000 }, configName: 'scheduler_config.json' },
        tokenizer: { files: { 'vocab.json': '{"a": 0}', 'merges.txt': '#version: 0.2\n' } },
      },
    });
    expect(written[written.length - 1]).toBe(join(root, 'model_index.json'));
    expect(readdirSync(join(root, 'unet')).sort()).toEqual(['config.json', 'diffusion_pytorch_model.safetensors']);
    expect(readdirSync(join(root, 'text_encoder')).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(readdirSync(join(root, 'tokenizer')).sort()).toEqual(['merges.txt', 'vocab.json']);
    expect(readJsonConfig(join(root, 'scheduler', 'scheduler_config.json')).num_train_timesteps).toBe(1000);
    // diffusers writes configs with sorted keys and 2-space indentation
    const text1 = readFileSync(join(root, 'unet', 'config.json'), 'utf8');
    expect(text1.startsWith('{\n  "_class_name": "UNet2DConditionModel",\n  "_diffusers_version"')).toBe(true);

    const index = readModelIndex(root);
    expect(index.className).toBe('StableDiffusionPipeline');
    expect(index.diffusersVersion).toBe('0.25.1');
    expect(index.components.unet).toEqual({ library: 'diffusers', className: 'UNet2DConditionModel' });
    expect(index.components.safety_checker).toEqual({ library: null, className: null });
    expect(index.components.requires_safety_checker).toBeUndefined();

    const loaded = loadPipeline(root);
    expect([...loaded.components.keys()]).toEqual(['unet', 'vae', 'text_encoder']);
    for (const [name, original] of [['unet', unet], ['vae', vae], ['text_encoder', text]] as const) {
      const back = loaded.components.get(name);
      expect(back?.config).toEqual(original.config);
      expectSameWeights(back?.weights ?? new Map(), original.weights);
      expect(readSafetensors(back?.files[0] as string).metadata).toEqual({ format: 'pt' });
    }
    expect(() => loadPipeline(root, { components: ['../unet'] })).toThrow(InvalidOptionError);
  });

  it('refuses a non-empty target unless overwrite is true', () => {
    const root = tempDir();
    writeFileSync(join(root, 'user-model.safetensors'), 'precious');
    const unet = loadComponent(unetDir);
    expect(() => writeDiffusersComponent(root, unet.config, unet.weights)).toThrow(InvalidOptionError);
    expect(() =>
      writeDiffusersPipeline(root, { modelIndex: { _class_name: 'StableDiffusionPipeline' }, components: {} }),
    ).toThrow(InvalidOptionError);
    expect(readdirSync(root)).toEqual(['user-model.safetensors']);
    writeDiffusersComponent(root, unet.config, unet.weights, { overwrite: true });
    expect(readFileSync(join(root, 'user-model.safetensors'), 'utf8')).toBe('precious');
    expect(loadComponent(root).weights.size).toBe(304);
  });

  it('refuses to write over a file or under odd names', () => {
    const root = tempDir();
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    expect(() => writeDiffusersComponent(file, {}, new Map())).toThrow(FileFormatError);
    expect(() =>
      writeDiffusersPipeline(join(root, 'p'), { modelIndex: { _class_name: 'X' }, components: { '../escape': {} } }),
    ).toThrow(InvalidOptionError);
    expect(() => writeDiffusersPipeline(join(root, 'q'), { modelIndex: {}, components: {} })).toThrow(InvalidOptionError);
    expect(existsSync(join(root, 'p'))).toBe(false);
  });

  it('writes a pipeline a component at a time, then its index, as writeDiffusersPipeline does at once', () => {
    const unet = loadComponent(unetDir);
    const components = { unet: { config: unet.config, weights: unet.weights }, tokenizer: { files: { 'vocab.json': '{}' } } };
    const modelIndex = { _class_name: 'StableDiffusionPipeline', unet: ['diffusers', 'UNet2DConditionModel'] };
    const atOnce = tempDir();
    const stepwise = tempDir();
    const all = writeDiffusersPipeline(atOnce, { modelIndex, components }).map((f) => f.slice(atOnce.length));
    const parts = [
      ...writePipelineComponent(join(stepwise, 'unet'), components.unet),
      ...writePipelineComponent(join(stepwise, 'tokenizer'), components.tokenizer),
      writeModelIndex(stepwise, modelIndex),
    ].map((f) => f.slice(stepwise.length));
    expect(parts).toEqual(all);
    for (const f of all) expect(readFileSync(join(stepwise, f))).toEqual(readFileSync(join(atOnce, f)));
    expect(() => writeModelIndex(tempDir(), { unet: ['diffusers', 'UNet2DConditionModel'] })).toThrow(InvalidOptionError);
    expect(() => writePipelineComponent(join(stepwise, 'unet'), components.unet)).toThrow(InvalidOptionError); // not empty
    writePipelineComponent(join(stepwise, 'unet'), components.unet, { overwrite: true });
    expect(readFileSync(join(stepwise, 'unet', 'config.json'))).toEqual(readFileSync(join(atOnce, 'unet', 'config.json')));
  });

  it('replaces an existing model_index.json only with overwrite', () => {
    const dir = tempDir();
    const className = (): unknown => JSON.parse(readFileSync(join(dir, 'model_index.json'), 'utf8'))._class_name;
    writeModelIndex(dir, { _class_name: 'StableDiffusionPipeline' });
    let refused: unknown;
    try {
      writeModelIndex(dir, { _class_name: 'OtherPipeline' });
    } catch (error) {
      refused = error;
    }
    expect(InvalidOptionError.isInstance(refused) && refused.option).toBe('overwrite');
    expect(className()).toBe('StableDiffusionPipeline');
    writeModelIndex(dir, { _class_name: 'OtherPipeline' }, { overwrite: true });
    expect(className()).toBe('OtherPipeline');
    // writeDiffusersPipeline passes its overwrite on: a pipeline written over an existing one replaces its index
    writeDiffusersPipeline(dir, { modelIndex: { _class_name: 'ThirdPipeline' }, components: { tokenizer: { files: { 'vocab.json': '{}' } } } }, { overwrite: true });
    expect(className()).toBe('ThirdPipeline');
  });
});

describe('variants', () => {
  it('reads fp16 variants only when asked, as diffusers does', () => {
    const dir = join(tempDir(), 'vae');
    const vae = loadComponent(vaeDir);
    writeDiffusersComponent(dir, vae.config, vae.weights, { variant: 'fp16', floatDtype: 'F16' });
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'diffusion_pytorch_model.fp16.safetensors']);
    const error = (() => {
      try {
        loadComponent(dir);
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect(error?.message).toMatch(/pass `variant`/);
    const half = loadComponent(dir, { variant: 'fp16' });
    expect(half.files).toEqual([join(dir, 'diffusion_pytorch_model.fp16.safetensors')]);
    for (const [key, w] of vae.weights) {
      const h = half.weights.get(key) as HostTensor;
      expect(h.fileDtype).toBe('F16');
      // fp16 keeps 11 significant bits: relative error ≤ 2^-11 (plus the subnormal step 2^-25)
      let violations = 0;
      for (let i = 0; i < w.data.length; i++) {
        const a = w.data[i] as number;
        if (!(Math.abs((h.data[i] as number) - a) <= Math.abs(a) * 2 ** -11 + 2 ** -25)) violations++;
      }
      expect(violations, key).toBe(0);
    }
    expect(() => loadComponent(dir, { variant: 'bf16' })).toThrow(FileFormatError);
    expect(() => loadComponent(dir, { variant: '../x' })).toThrow(InvalidOptionError);
  });
});

describe('sharded weights', () => {
  function shard(dir: string, weights: ReadonlyMap<string, HostTensor>, names: string[][], indexName = 'diffusion_pytorch_model.safetensors.index.json'): Record<string, string> {
    const weightMap: Record<string, string> = {};
    names.forEach((keys, i) => {
      const file = `diffusion_pytorch_model-0000${i + 1}-of-0000${names.length}.safetensors`;
      writeSafetensors(join(dir, file), new Map(keys.map((k) => [k, weights.get(k) as HostTensor])), { format: 'pt' });
      for (const k of keys) weightMap[k] = file;
    });
    writeFileSync(join(dir, indexName), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
    return weightMap;
  }

  it('loads every shard of an index', () => {
    const dir = tempDir();
    const unet = loadComponent(unetDir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(unet.config));
    const keys = [...unet.weights.keys()].sort();
    shard(dir, unet.weights, [keys.slice(0, 100), keys.slice(100, 250), keys.slice(250)]);
    expect(findComponentWeights(dir)).toEqual({ kind: 'sharded', file: join(dir, 'diffusion_pytorch_model.safetensors.index.json') });
    const back = loadComponent(dir);
    expect(back.files).toHaveLength(4);
    expectSameWeights(back.weights, unet.weights);
  });

  it('loads a sharded fp16 variant index', () => {
    const dir = tempDir();
    const clip = loadComponent(clipDir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(clip.config));
    const keys = [...clip.weights.keys()].sort();
    shard(dir, clip.weights, [keys.slice(0, 10), keys.slice(10)], 'model.safetensors.index.fp16.json');
    expect(() => loadComponent(dir)).toThrow(FileFormatError);
    expectSameWeights(loadComponent(dir, { variant: 'fp16' }).weights, clip.weights);
  });

  it('rejects an index whose shards do not match it, or that points outside the folder', () => {
    const clip = loadComponent(clipDir);
    const keys = [...clip.weights.keys()].sort();
    const indexName = 'model.safetensors.index.json';

    const missing = tempDir();
    writeFileSync(join(missing, 'config.json'), '{}');
    const map = shard(missing, clip.weights, [keys.slice(0, 10), keys.slice(10)], indexName);
    map['text_model.not_there.weight'] = map[keys[0] as string] as string;
    writeFileSync(join(missing, indexName), JSON.stringify({ weight_map: map }));
    expect(() => loadComponent(missing)).toThrow(/missing/);

    const extra = tempDir();
    writeFileSync(join(extra, 'config.json'), '{}');
    const map2 = shard(extra, clip.weights, [keys.slice(0, 10), keys.slice(10)], indexName);
    delete map2[keys[0] as string];
    writeFileSync(join(extra, indexName), JSON.stringify({ weight_map: map2 }));
    expect(() => loadComponent(extra)).toThrow(/not listed/);

    const escape = tempDir();
    mkdirSync(join(escape, 'sub'));
    writeFileSync(join(escape, 'sub', 'config.json'), '{}');
    writeFileSync(join(escape, 'sub', indexName), JSON.stringify({ weight_map: { a: '../secret.safetensors' } }));
    expect(() => loadComponent(join(escape, 'sub'))).toThrow(FileFormatError);

    const noMap = tempDir();
    writeFileSync(join(noMap, 'config.json'), '{}');
    writeFileSync(join(noMap, indexName), JSON.stringify({ metadata: {} }));
    expect(() => loadComponent(noMap)).toThrow(FileFormatError);

    const absent = tempDir();
    writeFileSync(join(absent, 'config.json'), '{}');
    writeFileSync(join(absent, indexName), JSON.stringify({ weight_map: { a: 'model-00001-of-00001.safetensors' } }));
    expect(() => loadComponent(absent)).toThrow(FileFormatError);
  });
});
