/**
 * `exportModel()`: writes the (erased) model as a complete diffusers folder through @erase/sd's
 * `writePipelineComponent` / `writeModelIndex` — `model_index.json`, `text_encoder/`, `unet/`, `vae/` (Stable Diffusion only),
 * `scheduler/`, `tokenizer/` and, for the embedded world, `oracle/` — loadable by `StableDiffusion.fromPretrained`
 * / `loadShapesWorld({ dir })` and by diffusers. Weights are the model's current values in PyTorch layout; an
 * attached (unfused) LoRA is folded in: W' = W + scale · (α / r) · B A. Configs, scheduler and tokenizer files are
 * copied from the folder the model was loaded from (so they are exactly the base model's). The folder is written
 * atomically (staging.ts).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FileFormatError, UnsupportedError, reportProgress, throwIfAborted, type DiffusionModel, type LongRunningOptions } from '@erase/core';
import {
  SD_SCHEDULER_CONFIG,
  StableDiffusion,
  UNet2DConditionModel,
  readJsonConfig,
  writeModelIndex,
  writePipelineComponent,
  type HostTensor,
  type PipelineComponentToWrite,
} from '@erase/sd';
import { ShapesWorldModel } from '@erase/shapes-world';
import { modelLocation } from './fingerprint';
import { writeFolderAtomic } from './staging';
import { booleanOption, oneOf } from '../shared/validate';

/** Options of `exportModel`. */
export interface ExportModelOptions extends LongRunningOptions {
  /** Replace a folder that already holds entries. Default false. */
  readonly overwrite?: boolean;
  /** File dtype of the weights (default 'F32'). */
  readonly floatDtype?: 'F32' | 'F16' | 'BF16';
}

/** What `exportModel` wrote. */
export interface ExportedModel {
  readonly dir: string;
  /** Paths relative to `dir`, `/`-separated. */
  readonly files: readonly string[];
}

/** The UNet's weights with its attached LoRA (if any) folded in. */
function unetWeights(unet: UNet2DConditionModel): Map<string, HostTensor> {
  const weights = unet.exportWeights();
  const adapter = unet.lora;
  if (!adapter) return weights;
  for (const [path, layer] of unet.exportLora()) {
    const key = `${path}.weight`;
    const base = weights.get(key) as HostTensor;
    const [r, inF] = [layer.down.shape[0] as number, layer.down.shape[1] as number];
    const outF = layer.up.shape[0] as number;
    const factor = adapter.scale * ((layer.alpha ?? r) / r);
    const data = Float32Array.from(base.data as Float32Array); // [out, in] (or [out, in, 1, 1])
    const down = layer.down.data as Float32Array; // [r, in]
    const up = layer.up.data as Float32Array; // [out, r]
    for (let o = 0; o < outF; o++)
      for (let k = 0; k < r; k++) {
        const b = factor * (up[o * r + k] as number);
        if (b === 0) continue;
        for (let i = 0; i < inF; i++) data[o * inF + i] = (data[o * inF + i] as number) + b * (down[k * inF + i] as number);
      }
    weights.set(key, { ...base, data });
  }
  return weights;
}

/** Every file of a folder as bytes (an empty object when the folder is absent). */
function folderFiles(dir: string): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) if (statSync(join(dir, name)).isFile()) out[name] = readFileSync(join(dir, name));
  return out;
}

/** `model_index.json` of the source with the components this export does not write set to `[null, null]`. */
function modelIndexFor(folder: string, written: readonly string[]): Record<string, unknown> {
  const file = join(folder, 'model_index.json');
  const index = readJsonConfig(file);
  if (typeof index._class_name !== 'string') {
    // checked here, before anything is written, rather than by writeModelIndex once every weight is copied
    throw new FileFormatError({ file, expected: 'a diffusers model_index.json naming its pipeline class (_class_name)', problem: `has _class_name ${JSON.stringify(index._class_name) ?? 'missing'}` });
  }
  for (const [key, value] of Object.entries(index)) {
    const isComponent = Array.isArray(value) && value.length === 2 && !key.startsWith('_');
    if (isComponent && !written.includes(key)) index[key] = [null, null];
  }
  return index;
}

function schedulerComponent(folder: string): PipelineComponentToWrite {
  const file = join(folder, 'scheduler', 'scheduler_config.json');
  return { config: existsSync(file) ? readJsonConfig(file) : SD_SCHEDULER_CONFIG, configName: 'scheduler_config.json' };
}

/**
 * Exports `model` as a diffusers folder at `dir`.
 * @returns the files written
 * @throws UnsupportedError for models other than `StableDiffusion` / `ShapesWorldModel`, and for a Stable Diffusion
 *   loaded from a single file (no source configs to copy: export from a diffusers folder); InvalidOptionError for a
 *   non-empty `dir` without `overwrite`, or a `dir` that is, holds or lies inside the model's folder; FileFormatError when a source config is missing, the source model_index.json names no _class_name, or a file
 *   cannot be written
 */
export async function exportModel(model: DiffusionModel, dir: string, options: ExportModelOptions = {}): Promise<ExportedModel> {
  const overwrite = options.overwrite === undefined ? false : booleanOption('overwrite', options.overwrite);
  const floatDtype = options.floatDtype === undefined ? undefined : oneOf('floatDtype', options.floatDtype, ['F32', 'F16', 'BF16'] as const);
  const isWorld = model instanceof ShapesWorldModel;
  if (!isWorld && !(model instanceof StableDiffusion)) {
    throw new UnsupportedError(`exportModel: ${model.source} is neither a StableDiffusion nor the embedded ShapesWorldModel; export its weights with @erase/sd's writers.`);
  }
  const location = modelLocation(model);
  if (!location || location.kind !== 'folder') {
    throw new UnsupportedError(
      `exportModel: ${model.source} was loaded from a single file, which carries no diffusers configs to copy; convert it to a diffusers folder first, or save the erasure with save().`,
    );
  }
  const folder = location.path;
  const unet = model.unet;
  if (!(unet instanceof UNet2DConditionModel)) throw new UnsupportedError(`exportModel: ${model.source} has a UNet that is not @erase/sd's UNet2DConditionModel.`);
  // configs are read up front (a missing one fails before anything is written); weights are copied one component at
  // a time, as it is written, with the event loop given a turn in between (so an abort is seen and progress shown)
  const configs = {
    text_encoder: readJsonConfig(join(folder, 'text_encoder', 'config.json')),
    unet: readJsonConfig(join(folder, 'unet', 'config.json')),
    ...(model instanceof StableDiffusion ? { vae: readJsonConfig(join(folder, 'vae', 'config.json')) } : {}),
  };
  const components: Record<string, () => PipelineComponentToWrite> = {
    text_encoder: () => ({ config: configs.text_encoder, weights: model.textModel.exportWeights(), weightsName: 'model' }),
    unet: () => ({ config: configs.unet, weights: unetWeights(unet), weightsName: 'diffusion_pytorch_model' }),
    scheduler: () => schedulerComponent(folder),
    tokenizer: () => ({ files: folderFiles(join(folder, 'tokenizer')) }),
  };
  if (model instanceof StableDiffusion) {
    const vae = model.vae;
    components.vae = () => ({ config: configs.vae as Record<string, unknown>, weights: vae.exportWeights(), weightsName: 'diffusion_pytorch_model' });
  } else if (existsSync(join(folder, 'oracle'))) {
    components.oracle = () => ({ files: folderFiles(join(folder, 'oracle')) });
  }
  const modelIndex = modelIndexFor(folder, Object.keys(components));
  const names = Object.keys(components);
  throwIfAborted(options.signal, 'exportModel');
  const protect = [{ path: folder, what: 'the model being exported' }];
  const written = await writeFolderAtomic(
    dir,
    { overwrite, protect },
    async (staging) => {
      const files: string[] = [];
      const writeOptions = floatDtype ? { floatDtype } : {};
      for (const [i, name] of names.entries()) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        throwIfAborted(options.signal, 'exportModel');
        files.push(...writePipelineComponent(join(staging, name), (components[name] as () => PipelineComponentToWrite)(), writeOptions));
        reportProgress(options.onProgress, { stage: 'export.write', step: i + 1, total: names.length, message: name });
      }
      files.push(writeModelIndex(staging, modelIndex)); // once, after every component
      return files.map((file) => file.slice(staging.length + 1).split(/[\\/]/).join('/'));
    },
  );
  return { dir, files: written };
}
