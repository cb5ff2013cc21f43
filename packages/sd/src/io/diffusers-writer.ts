/**
 * Writing diffusers folders that diffusers/transformers `from_pretrained(dir, use_safetensors=True)` can load.
 * Every file is written atomically; a target folder that already holds files is refused unless `overwrite: true`,
 * so a user's existing model is never written into by accident. Configs are written as given (snake_case keys),
 * sorted, with 2-space indentation, like diffusers' `save_config`.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FileFormatError, InvalidOptionError } from '@erase/core';
import { writeFileAtomic, writeAll, writeJsonFileAtomic } from '@erase/core';
import { isPlainName } from './diffusers-folder';
import type { HostTensor } from './safetensors';
import { writeSafetensors, type TensorToWrite } from './safetensors-writer';

/** Options of the diffusers writers. */
export interface WriteDiffusersOptions {
  /** Allow writing into a folder that already holds files (same-named files are replaced atomically). Default false. */
  readonly overwrite?: boolean;
  /** File dtype for float32 weights (default 'F32'). */
  readonly floatDtype?: 'F32' | 'F16' | 'BF16';
  /** Weight variant in the file name (`diffusion_pytorch_model.<variant>.safetensors`). */
  readonly variant?: string;
}

/** One component of a pipeline to write. */
export interface PipelineComponentToWrite {
  /** Written as `configName` (default `config.json`; schedulers use `scheduler_config.json`). */
  readonly config?: Readonly<Record<string, unknown>>;
  readonly configName?: string;
  /** Model weights (state_dict names, PyTorch layouts). */
  readonly weights?: ReadonlyMap<string, HostTensor | TensorToWrite>;
  /** Weights file stem; default `model` for transformers configs (with `model_type`/`architectures`), else `diffusion_pytorch_model`. */
  readonly weightsName?: string;
  /** Other files (tokenizer `vocab.json`, `merges.txt`, …): name → text or bytes. */
  readonly files?: Readonly<Record<string, string | Uint8Array>>;
}

function sortedObject(value: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = value[key];
  return out;
}

/** Ensures `dir` exists as a folder and is empty unless `overwrite`. */
function prepareFolder(dir: string, overwrite: boolean): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new FileFormatError({ file: dir, expected: 'a folder to write a model into', problem: 'is a file' });
    const entries = readdirSync(dir);
    if (entries.length > 0 && !overwrite) {
      throw new InvalidOptionError({
        option: 'overwrite',
        expected: `true to write into ${dir}, which already holds ${entries.length} entries (${entries.slice(0, 5).join(', ')}); or choose an empty/new folder`,
        received: false,
      });
    }
    return;
  }
  try {
    mkdirSync(dir, { recursive: true });
  } catch (cause) {
    throw new FileFormatError({ file: dir, expected: 'a folder that can be created', problem: `cannot be created (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, cause });
  }
}

function checkFileName(option: string, name: string): void {
  if (!isPlainName(name)) throw new InvalidOptionError({ option, expected: 'a plain file name (no path separators)', received: name });
}

function weightsFileName(config: Readonly<Record<string, unknown>> | undefined, stem: string | undefined, variant: string | undefined): string {
  if (variant !== undefined && !/^[A-Za-z0-9_-]+$/.test(variant)) {
    throw new InvalidOptionError({ option: 'variant', expected: "a variant name such as 'fp16'", received: variant });
  }
  const isTransformers = config !== undefined && ('model_type' in config || 'architectures' in config);
  const base = stem ?? (isTransformers ? 'model' : 'diffusion_pytorch_model');
  checkFileName('weightsName', base);
  return `${base}${variant ? `.${variant}` : ''}.safetensors`;
}

function writeComponentFiles(dir: string, component: PipelineComponentToWrite, options: WriteDiffusersOptions): string[] {
  const written: string[] = [];
  if (component.weights) {
    const file = join(dir, weightsFileName(component.config, component.weightsName, options.variant));
    writeSafetensors(file, component.weights, { format: 'pt' }, { floatDtype: options.floatDtype ?? 'F32' });
    written.push(file);
  }
  for (const [name, content] of Object.entries(component.files ?? {})) {
    checkFileName(`files["${name}"]`, name);
    const file = join(dir, name);
    writeFileAtomic(file, (fd) => writeAll(fd, typeof content === 'string' ? Buffer.from(content, 'utf8') : content));
    written.push(file);
  }
  if (component.config) {
    const name = component.configName ?? 'config.json';
    checkFileName('configName', name);
    const file = join(dir, name);
    writeJsonFileAtomic(file, sortedObject(component.config));
    written.push(file);
  }
  return written;
}

/**
 * Writes one model component folder: `config.json` + `diffusion_pytorch_model.safetensors` (or `model.safetensors`
 * for a transformers config), weights with `__metadata__ = {format: 'pt'}`.
 * @returns the files written
 * @throws InvalidOptionError when `dir` holds files and `overwrite` is not true, or for bad names/tensors;
 *   FileFormatError when the folder cannot be created or written
 */
export function writeDiffusersComponent(
  dir: string,
  config: Readonly<Record<string, unknown>>,
  weights: ReadonlyMap<string, HostTensor | TensorToWrite>,
  options: WriteDiffusersOptions & { weightsName?: string } = {},
): string[] {
  return writePipelineComponent(dir, { config, weights, weightsName: options.weightsName }, options);
}

/**
 * Writes one component of a pipeline (config, weights and/or other files) into `dir` — `<pipeline>/<name>/` — for a
 * caller that writes a pipeline a component at a time and `writeModelIndex` last.
 * @returns the files written
 * @throws InvalidOptionError when `dir` holds files and `overwrite` is not true, or for bad names/tensors;
 *   FileFormatError when the folder cannot be created or written
 */
export function writePipelineComponent(dir: string, component: PipelineComponentToWrite, options: WriteDiffusersOptions = {}): string[] {
  prepareFolder(dir, options.overwrite ?? false);
  return writeComponentFiles(dir, component, options);
}

/**
 * Writes `<dir>/model_index.json` (keys sorted). Write it after the components: a folder without it is not taken for
 * a complete pipeline. An existing `model_index.json` is replaced only with `overwrite: true`.
 * @returns the file written
 * @throws InvalidOptionError when `modelIndex` lacks `_class_name`, or (option `overwrite`) when the file exists and
 *   `overwrite` is not true; FileFormatError when it cannot be written
 */
export function writeModelIndex(dir: string, modelIndex: Readonly<Record<string, unknown>>, options: { readonly overwrite?: boolean } = {}): string {
  checkModelIndex(modelIndex);
  const file = join(dir, 'model_index.json');
  if (!(options.overwrite ?? false) && existsSync(file)) {
    throw new InvalidOptionError({ option: 'overwrite', expected: `true to replace ${file}, which already exists; or choose a new folder`, received: options.overwrite ?? false });
  }
  writeJsonFileAtomic(file, sortedObject(modelIndex));
  return file;
}

function checkModelIndex(modelIndex: Readonly<Record<string, unknown>>): void {
  if (typeof modelIndex._class_name !== 'string') {
    throw new InvalidOptionError({ option: 'modelIndex._class_name', expected: "the pipeline class name, e.g. 'StableDiffusionPipeline'", received: modelIndex._class_name });
  }
}

/**
 * Writes a diffusers pipeline folder: each component into `<dir>/<name>/`, then `model_index.json` last (so an
 * interrupted write is never mistaken for a complete pipeline).
 * @param pipeline.modelIndex the `model_index.json` content (snake_case, e.g. `{_class_name, unet: ['diffusers', 'UNet2DConditionModel'], …}`)
 * @param pipeline.components folder name → what to write in it
 * @returns the files written
 * @throws InvalidOptionError when `dir` holds files and `overwrite` is not true, a component name is not a plain
 *   folder name, or `modelIndex` lacks `_class_name`; FileFormatError when something cannot be written
 */
export function writeDiffusersPipeline(
  dir: string,
  pipeline: {
    readonly modelIndex: Readonly<Record<string, unknown>>;
    readonly components: Readonly<Record<string, PipelineComponentToWrite>> | ReadonlyMap<string, PipelineComponentToWrite>;
  },
  options: WriteDiffusersOptions = {},
): string[] {
  checkModelIndex(pipeline.modelIndex);
  const components = pipeline.components instanceof Map ? [...pipeline.components] : Object.entries(pipeline.components);
  for (const [name] of components) checkFileName(`components["${name}"]`, name);
  const overwrite = options.overwrite ?? false;
  prepareFolder(dir, overwrite);
  const written: string[] = [];
  for (const [name, component] of components) written.push(...writePipelineComponent(join(dir, name), component, options));
  written.push(writeModelIndex(dir, pipeline.modelIndex, { overwrite }));
  return written;
}
