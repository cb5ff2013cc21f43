// save() → applySavedErasure() and exportModel() on the embedded world (cpu): the delta holds the edited weights in
// PyTorch layout, a saved erasure applied to a fresh copy of the base gives the same weights, a changed base or a
// truncated file is refused with a typed error naming the file, a LoRA is written in the asked format and loads back,
// a failed save leaves nothing, and an exported folder loads back and generates the same latents.
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, FileFormatError, InvalidOptionError, Rng, UnsupportedError, WeightKeysError, type DiffusionModel } from '@erase/core';
import { StableDiffusion, readLora, readSafetensors, textToImage } from '@erase/sd';
import { loadShapesWorld, shapesWorldWeightsDir, type ShapesWorldModel } from '@erase/shapes-world';
import {
  ERASE_VERSION,
  applySavedErasure,
  baseFingerprint,
  exportModel,
  save,
  uce,
  type ErasureResultBase,
  type LoraWeightCopies,
  type UceResult,
} from '../src/index';
import { writeTinyPipeline } from '../../sd/test/stable-diffusion/tiny-pipeline';

let root: string;
let edited: ShapesWorldModel;
let result: UceResult;
const saved = (): string => join(root, 'uce-heart');

function values(model: DiffusionModel, name: string): Float32Array {
  return model.unet.parameters().get(name)?.dataSync() as Float32Array;
}

function handBuiltLora(model: DiffusionModel): LoraWeightCopies {
  const rng = new Rng(11);
  const out: LoraWeightCopies = new Map();
  for (const site of model.unet.crossAttentionSites().slice(0, 2)) {
    for (const projection of ['to_k', 'to_v']) {
      const inF = site.contextDim;
      const outF = site.innerDim;
      const fill = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal() * 0.1);
      out.set(`${site.path}.${projection}`, {
        alpha: 4, // rank 2: the update is scaled by 2
        down: { dtype: 'float32', fileDtype: 'F32', shape: [2, inF], data: fill(2 * inF) },
        up: { dtype: 'float32', fileDtype: 'F32', shape: [outF, 2], data: fill(2 * outF) },
      });
    }
  }
  return out;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'erase-save-'));
  edited = await loadShapesWorld({ oracle: false });
  result = await uce(edited, { concepts: ['heart'] });
  await save(edited, result, saved());
});
afterAll(() => {
  result.dispose();
  edited.dispose();
  rmSync(root, { recursive: true, force: true });
});

describe('save', () => {
  it('writes the three files; the delta holds the edited projections in PyTorch layout [out, in]', () => {
    expect(readdirSync(saved()).sort()).toEqual(['erase_config.json', 'unet_delta.safetensors']);
    const delta = readSafetensors(join(saved(), 'unet_delta.safetensors'));
    expect([...delta.tensors.keys()].sort()).toEqual([...result.changedParameters].sort());
    expect(delta.metadata.format).toBe('pt');
    // Independent layout check: core's site API reads W as [out, in], the diffusers layout.
    const site = edited.unet.crossAttentionSites()[0];
    const w = site?.readProjection('to_k') as tf.Tensor2D;
    const stored = delta.tensors.get(`${site?.path}.to_k.weight`);
    expect(stored?.shape).toEqual(w.shape);
    expect(Array.from(stored?.data ?? [])).toEqual(Array.from(w.dataSync()));
    w.dispose();
  });

  it('records method, resolved options, seeds, version and the base fingerprint in erase_config.json', () => {
    const config = JSON.parse(readFileSync(join(saved(), 'erase_config.json'), 'utf8')) as Record<string, any>;
    expect(config.method).toBe('uce');
    expect(config.options).toMatchObject({ version: '2023', technique: 'replace', concepts: ['heart'], lambda: 0.5, eraseScale: 1 });
    expect(config.erase_version).toBe(ERASE_VERSION);
    expect(config.base_model.source).toBe('embedded:shapes-world');
    expect(config.base_model.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(config.base_model.files.map((f: { path: string }) => f.path)).toEqual(['text_encoder/model.safetensors', 'unet/diffusion_pytorch_model.safetensors']);
    expect(config.changed_parameters).toEqual(result.changedParameters);
    expect(config.files).toEqual({ unet_delta: 'unet_delta.safetensors', lora: null, lora_format: null, lora_fused: false });
  });

  it('ERASE_VERSION is the package version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(ERASE_VERSION).toBe(pkg.version);
  });

  it('refuses a non-empty folder unless overwrite, and then replaces it', async () => {
    const dir = join(root, 'busy');
    cpSync(saved(), dir, { recursive: true });
    writeFileSync(join(dir, 'keep.txt'), 'mine');
    await expect(save(edited, result, dir)).rejects.toThrow(InvalidOptionError);
    expect(readFileSync(join(dir, 'keep.txt'), 'utf8')).toBe('mine');
    const before = tf.memory().numTensors;
    await save(edited, result, dir, { overwrite: true });
    expect(tf.memory().numTensors).toBe(before);
    expect(readdirSync(dir).sort()).toEqual(['erase_config.json', 'unet_delta.safetensors']);
  });

  it('a failure mid-save (abort after the first file, or a bad LoRA) leaves no folder and no temporary files', async () => {
    const parent = join(root, 'atomic');
    const dir = join(parent, 'nested', 'out');
    const controller = new AbortController();
    await expect(
      save(edited, result, dir, { signal: controller.signal, onProgress: (e) => e.step === 1 && controller.abort() }),
    ).rejects.toThrow(AbortedError);
    expect(existsSync(parent)).toBe(false);
    const bad: ErasureResultBase = {
      ...result,
      method: 'realera',
      lora: { fused: false, weights: new Map([['mid_block.attentions.0.transformer_blocks.0.attn2.to_k', { alpha: 1, down: { dtype: 'float32', fileDtype: 'F32', shape: [1, 64], data: new Float32Array(3) }, up: { dtype: 'float32', fileDtype: 'F32', shape: [8, 1], data: new Float32Array(8) } }]]) },
    };
    await expect(save(edited, bad, join(root, 'bad-lora'))).rejects.toThrow(/data of length 3/);
    expect(readdirSync(root).filter((n) => n.startsWith('.') || n === 'bad-lora')).toEqual([]);
  });

  it('refuses a folder inside the base model (writing there would change it), and export likewise', async () => {
    const inside = join(edited.dir, 'erased');
    await expect(save(edited, result, inside)).rejects.toThrow(/lies inside the base model/);
    await expect(exportModel(edited, inside)).rejects.toThrow(/lies inside the model being exported/);
    expect(existsSync(inside)).toBe(false);
    expect(readdirSync(dirname(edited.dir)).filter((n) => n.includes('.partial'))).toEqual([]);
  });

  it('refuses a result that changed nothing in the model (uce with inPlace: false)', async () => {
    const returned = await uce(edited, { concepts: ['star'], inPlace: false });
    try {
      await expect(save(edited, returned, join(root, 'not-in-place'))).rejects.toThrow(/changed nothing in the model/);
      expect(existsSync(join(root, 'not-in-place'))).toBe(false);
    } finally {
      returned.dispose();
    }
  });

  it('rejects changed parameters the UNet does not have, listing them', async () => {
    const bad = { ...result, changedParameters: ['nope.weight'] };
    await expect(save(edited, bad, join(root, 'bad-keys'))).rejects.toThrow(WeightKeysError);
    expect(existsSync(join(root, 'bad-keys'))).toBe(false);
  });
});

describe('applySavedErasure', () => {
  it('gives a fresh base model exactly the saved weights, and leaks no tensors', async () => {
    const fresh = await loadShapesWorld({ oracle: false });
    try {
      const name = result.changedParameters[0] as string;
      expect(Array.from(values(fresh, name))).not.toEqual(Array.from(values(edited, name)));
      const before = tf.memory().numTensors;
      const applied = applySavedErasure(fresh, saved());
      expect(tf.memory().numTensors).toBe(before);
      expect(applied.changedParameters).toEqual(expect.arrayContaining([...result.changedParameters]));
      for (const [key] of fresh.unet.parameters()) expect(Array.from(values(fresh, key)), key).toEqual(Array.from(values(edited, key)));
      expect(applied.lora).toBeUndefined();
    } finally {
      fresh.dispose();
    }
  });

  it('refuses another base model (fingerprint mismatch), leaving it unchanged', async () => {
    const other = join(root, 'other-world');
    cpSync(shapesWorldWeightsDir(), other, { recursive: true });
    const unetFile = join(other, 'unet', 'diffusion_pytorch_model.safetensors');
    const bytes = readFileSync(unetFile);
    const at = bytes.length - 4; // little-endian: the lowest mantissa byte of the last weight
    bytes[at] = (bytes[at] as number) ^ 1;
    writeFileSync(unetFile, bytes);
    const model = await loadShapesWorld({ dir: other, oracle: false });
    try {
      const name = result.changedParameters[0] as string;
      const before = Array.from(values(model, name));
      expect(() => applySavedErasure(model, saved())).toThrow(FileFormatError);
      expect(() => applySavedErasure(model, saved())).toThrow(/erase_config\.json.*another base model/);
      expect(Array.from(values(model, name))).toEqual(before);
    } finally {
      model.dispose();
    }
  });

  it('refuses a truncated delta file, naming it, and leaves the model unchanged', async () => {
    const dir = join(root, 'truncated');
    cpSync(saved(), dir, { recursive: true });
    const file = join(dir, 'unet_delta.safetensors');
    truncateSync(file, Math.floor(readFileSync(file).length / 2));
    const model = await loadShapesWorld({ oracle: false });
    try {
      const name = result.changedParameters[0] as string;
      const before = Array.from(values(model, name));
      expect(() => applySavedErasure(model, dir)).toThrow(FileFormatError);
      expect(() => applySavedErasure(model, dir)).toThrow(/unet_delta\.safetensors/);
      expect(Array.from(values(model, name))).toEqual(before);
      writeFileSync(join(dir, 'erase_config.json'), '{ "format": ');
      expect(() => applySavedErasure(model, dir)).toThrow(/erase_config\.json: is not valid JSON \(.+\) \(expected valid JSON: the erase_config\.json of a folder written by save\(\)\)/);
      rmSync(join(dir, 'erase_config.json'));
      expect(() => applySavedErasure(model, dir)).toThrow(/erase_config\.json: cannot be read \(ENOENT\)/);
    } finally {
      model.dispose();
    }
  });
});

describe('LoRA results', () => {
  it.each(['peft', 'kohya'] as const)('writes lora.safetensors (%s) for an unfused LoRA, and applying attaches the same factors', async (format) => {
    const weights = handBuiltLora(edited);
    const loraResult: ErasureResultBase = { method: 'realera', options: { seed: 5 }, changedParameters: [], lora: { weights, fused: false }, dispose: () => undefined };
    const dir = join(root, `lora-${format}`);
    const { config } = await save(edited, loraResult, dir, { loraFormat: format });
    expect(readdirSync(dir).sort()).toEqual(['erase_config.json', 'lora.safetensors']);
    expect(config.seeds).toEqual([5]);
    expect(config.files).toMatchObject({ unet_delta: null, lora: 'lora.safetensors', lora_format: format });
    const keys = [...readSafetensors(join(dir, 'lora.safetensors')).tensors.keys()];
    const first = [...weights.keys()][0] as string;
    expect(keys).toContain(format === 'peft' ? `unet.${first}.lora_A.weight` : `lora_unet_${first.replace(/\./g, '_')}.lora_down.weight`);
    expect(readLora(join(dir, 'lora.safetensors')).format).toBe(format);

    const fresh = await loadShapesWorld({ oracle: false });
    try {
      const applied = applySavedErasure(fresh, dir);
      const adapter = applied.lora;
      expect(adapter).toBeDefined();
      expect([...(adapter?.layers.keys() ?? [])].sort()).toEqual([...weights.keys()].sort());
      // kohya keeps alpha 4; peft has no alpha key diffusers would load, so alpha / r = 2 is folded into up: either way
      // the update (alpha / r) · up · down is the one saved (exactly: the factor is a power of two)
      const scale = (adapter?.config.alpha ?? 2) / 2;
      expect(scale).toBe(format === 'kohya' ? 2 : 1);
      for (const [path, layer] of weights) {
        expect(Array.from(adapter?.layers.get(path)?.down.dataSync() ?? [])).toEqual(Array.from(layer.down.data));
        expect(Array.from(adapter?.layers.get(path)?.up.dataSync() ?? [], (v) => v * scale)).toEqual(Array.from(layer.up.data, (v) => v * 2));
      }
      expect(keys.filter((k) => !k.includes('lora'))).toEqual([]); // diffusers' load_lora_weights refuses any other key
    } finally {
      fresh.dispose();
    }
  });

  it('writes no LoRA file for a fused LoRA (its targets are in the delta)', async () => {
    const fused: ErasureResultBase = { ...result, method: 'realera', lora: { weights: handBuiltLora(edited), fused: true } };
    const { files, config } = await save(edited, fused, join(root, 'lora-fused'));
    expect(files).toEqual(['unet_delta.safetensors', 'erase_config.json']);
    expect(config.files.lora_fused).toBe(true);
  });
});

describe('exportModel', () => {
  async function latentsOf(model: DiffusionModel): Promise<Float32Array> {
    const out = await textToImage(model, { prompt: 'a photo of the heart', seed: 3, numInferenceSteps: 3, outputType: 'latent' });
    const data = out.latents.dataSync() as Float32Array;
    out.latents.dispose();
    return Float32Array.from(data);
  }

  it('writes a diffusers folder that loadShapesWorld reads back and that generates the same latents', async () => {
    const dir = join(root, 'exported');
    const before = tf.memory().numTensors;
    const { files } = await exportModel(edited, dir);
    expect(tf.memory().numTensors).toBe(before);
    expect(files).toEqual(expect.arrayContaining(['model_index.json', 'unet/diffusion_pytorch_model.safetensors', 'text_encoder/model.safetensors', 'tokenizer/vocab.json', 'scheduler/scheduler_config.json', 'oracle/model.safetensors']));
    expect(new Set(files).size).toBe(files.length); // each file listed once (sd's stepwise-vs-at-once test covers the index being written once)
    expect(files.at(-1)).toBe('model_index.json'); // the index last
    const back = await loadShapesWorld({ dir });
    try {
      expect(back.oracle).toBeDefined();
      expect(Array.from(await latentsOf(back))).toEqual(Array.from(await latentsOf(edited)));
      expect(baseFingerprint(back).sha256).not.toBe(baseFingerprint(edited).sha256);
    } finally {
      back.dispose();
    }
  });

  it('refuses, before writing anything, a source folder whose model_index.json names no pipeline class', async () => {
    const source = join(root, 'source-without-class');
    cpSync(shapesWorldWeightsDir(), source, { recursive: true });
    const model = await loadShapesWorld({ dir: source, oracle: false });
    try {
      const index = JSON.parse(readFileSync(join(source, 'model_index.json'), 'utf8')) as Record<string, unknown>;
      delete index._class_name; // changed after loading: the export reads the index again
      writeFileSync(join(source, 'model_index.json'), JSON.stringify(index));
      const target = join(root, 'exported-without-class');
      const stages: string[] = []; // export reports a progress event after each component it writes
      const refused = exportModel(model, target, { onProgress: (e) => stages.push(e.stage) });
      await expect(refused).rejects.toThrow(FileFormatError);
      await expect(refused).rejects.toThrow(/model_index\.json.*_class_name/);
      expect(stages).toEqual([]); // refused before the first component was written
      expect(existsSync(target)).toBe(false);
    } finally {
      model.dispose();
    }
  });

  it('folds an attached LoRA into the exported weights', async () => {
    const model = await loadShapesWorld({ oracle: false });
    try {
      const weights = handBuiltLora(model);
      const loraResult: ErasureResultBase = { method: 'realera', options: {}, changedParameters: [], lora: { weights, fused: false }, dispose: () => undefined };
      const dir = join(root, 'lora-for-export');
      await save(model, loraResult, dir);
      applySavedErasure(model, dir);
      const withLora = await latentsOf(model);
      await exportModel(model, join(root, 'exported-lora'));
      const back = await loadShapesWorld({ dir: join(root, 'exported-lora'), oracle: false });
      try {
        const folded = await latentsOf(back);
        const plain = await loadShapesWorld({ oracle: false });
        const base = await latentsOf(plain);
        plain.dispose();
        const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);
        expect(maxDiff(folded, withLora)).toBeLessThan(1e-4);
        expect(maxDiff(base, withLora)).toBeGreaterThan(1e-3); // the LoRA changes the output, so the match above means something
      } finally {
        back.dispose();
      }
    } finally {
      model.dispose();
    }
  });

  it('a StableDiffusion folder (tiny pipeline): uce, save, export; the export loads with fromPretrained, generates the same latents, and the saved erasure re-applies exactly', async () => {
    const source = writeTinyPipeline();
    const model = await StableDiffusion.fromPretrained(source);
    try {
      const edit = await uce(model, { concepts: ['a cat'], guideConcepts: ['a dog'] });
      expect(edit.changedParameters.length).toBeGreaterThan(0); // else "re-applies exactly" below would prove nothing
      edit.dispose();
      await save(model, edit, join(root, 'sd-uce'));
      await exportModel(model, join(root, 'sd-exported'));
      const index = JSON.parse(readFileSync(join(root, 'sd-exported', 'model_index.json'), 'utf8')) as Record<string, unknown>;
      expect(index._class_name).toBe('StableDiffusionPipeline');
      const back = await StableDiffusion.fromPretrained(join(root, 'sd-exported'));
      const fresh = await StableDiffusion.fromPretrained(source);
      try {
        const run = async (m: DiffusionModel): Promise<number[]> => {
          const out = await textToImage(m, { prompt: 'a cat', seed: 1, numInferenceSteps: 2, outputType: 'latent' });
          const data = Array.from(out.latents.dataSync());
          out.latents.dispose();
          return data;
        };
        expect(await run(back)).toEqual(await run(model));
        applySavedErasure(fresh, join(root, 'sd-uce'));
        for (const name of edit.changedParameters) expect(Array.from(values(fresh, name)), name).toEqual(Array.from(values(model, name)));
      } finally {
        back.dispose();
        fresh.dispose();
      }
    } finally {
      model.dispose();
      rmSync(source, { recursive: true, force: true });
    }
  });

  it('refuses a model that is neither StableDiffusion nor the world, and a non-empty folder', async () => {
    const fake = { ...edited, source: 'memory' } as unknown as DiffusionModel;
    await expect(exportModel(fake, join(root, 'fake'))).rejects.toThrow(UnsupportedError);
    await expect(exportModel(edited, saved())).rejects.toThrow(InvalidOptionError);
    expect(existsSync(join(root, 'fake'))).toBe(false);
  });

  it('validates the options of save, exportModel and applySavedErasure at the boundary, writing nothing', async () => {
    const option = async (call: () => unknown): Promise<string | undefined> => {
      try {
        await call();
      } catch (error) {
        return InvalidOptionError.isInstance(error) ? error.option : `not an InvalidOptionError: ${String(error)}`;
      }
      return undefined;
    };
    const target = join(root, 'never-written');
    expect(await option(() => exportModel(edited, target, { floatDtype: 'I8' as 'F16' }))).toBe('floatDtype');
    expect(await option(() => exportModel(edited, target, { overwrite: 'yes' as unknown as boolean }))).toBe('overwrite');
    expect(await option(() => save(edited, result, target, { overwrite: 1 as unknown as boolean }))).toBe('overwrite');
    expect(await option(() => applySavedErasure(edited, saved(), { verifyBase: 'no' as unknown as boolean }))).toBe('verifyBase');
    expect(existsSync(target)).toBe(false);
  });
});
