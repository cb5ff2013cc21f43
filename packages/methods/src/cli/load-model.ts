/**
 * Loads the model a CLI command works on: the embedded shapes world by default; `--model <dir>` a diffusers folder
 * (a shapes-world folder — one with `oracle/` or a `ShapesWorldPipeline` model_index — loads as the world, with its
 * oracle); `--model <file>.safetensors` a single-file SD checkpoint (with `--tokenizer`). Selects the backend first
 * (wasm unless `--backend cpu`).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidOptionError, UnsupportedError, type DiffusionModel } from '@erase/core';
import { StableDiffusion, useBackend } from '@erase/sd';
import { loadShapesWorld } from '@erase/shapes-world';
import { applySavedErasure, type AppliedErasure } from '../io/apply';
import { checkOutsideProtected, checkTargetFolder } from '../io/staging';

/** The model flags, parsed. */
export interface ModelFlags {
  readonly model?: string;
  readonly tokenizer?: string;
  readonly backend?: 'cpu' | 'wasm';
  readonly threads?: number;
}

function isWorldFolder(dir: string): boolean {
  if (existsSync(join(dir, 'oracle'))) return true;
  try {
    const index = JSON.parse(readFileSync(join(dir, 'model_index.json'), 'utf8')) as { _class_name?: unknown };
    return index._class_name === 'ShapesWorldPipeline';
  } catch {
    return false;
  }
}

/**
 * Checks the model flags without loading anything.
 * @throws InvalidOptionError naming the flag (missing path, single file without --tokenizer, bad --threads)
 */
export function checkModelFlags(flags: ModelFlags): void {
  if (flags.threads !== undefined && flags.threads < 1) throw new InvalidOptionError({ option: '--threads', expected: 'a positive integer', received: flags.threads });
  if (flags.model === undefined) return;
  if (!existsSync(flags.model)) {
    throw new InvalidOptionError({ option: '--model', expected: 'an existing diffusers folder or .safetensors file', received: flags.model, message: `--model: ${flags.model} does not exist.` });
  }
  if (!statSync(flags.model).isDirectory()) {
    if (!flags.model.endsWith('.safetensors')) {
      throw new UnsupportedError(`--model: ${flags.model} is not a diffusers folder or a .safetensors file (pickle .ckpt files are not read: convert them to .safetensors).`);
    }
    if (flags.tokenizer === undefined) {
      throw new InvalidOptionError({ option: '--tokenizer', expected: 'a tokenizer folder for the single-file --model', received: undefined, message: `--model ${flags.model} is a single file: pass --tokenizer <dir> (a folder with vocab.json + merges.txt).` });
    }
    if (!existsSync(flags.tokenizer)) throw new InvalidOptionError({ option: '--tokenizer', expected: 'an existing folder', received: flags.tokenizer, message: `--tokenizer: ${flags.tokenizer} does not exist.` });
  }
}

/**
 * Checks `--out` before anything loads: clear of the model, its tokenizer and the saved erasure being read (a
 * command must never replace or write into them), then absent, empty, or `--overwrite`.
 * @throws InvalidOptionError naming --out (overlap) or overwrite; FileFormatError when --out is a file
 */
export function checkOutFlag(out: string, overwrite: boolean, flags: ModelFlags, erasure?: string): void {
  const protect = [
    ...(flags.model === undefined ? [] : [{ path: flags.model, what: 'the model (--model)' }]),
    ...(flags.tokenizer === undefined ? [] : [{ path: flags.tokenizer, what: 'the tokenizer (--tokenizer)' }]),
    ...(erasure === undefined ? [] : [{ path: erasure, what: 'the saved erasure (--erasure)' }]),
  ];
  checkOutsideProtected(out, protect, '--out');
  checkTargetFolder(out, overwrite);
}

/**
 * Selects the backend and loads the model. The caller owns it (`dispose()`).
 * @throws as `checkModelFlags`, `loadShapesWorld`, `StableDiffusion.fromPretrained` / `fromSingleFile`
 */
export async function loadModel(flags: ModelFlags): Promise<DiffusionModel> {
  checkModelFlags(flags);
  await useBackend(flags.backend ?? 'wasm', flags.threads === undefined ? {} : { threads: flags.threads });
  const path = flags.model;
  if (path === undefined) return loadShapesWorld();
  if (statSync(path).isDirectory()) {
    if (isWorldFolder(path)) return loadShapesWorld({ dir: path, oracle: existsSync(join(path, 'oracle', 'model.safetensors')) });
    return StableDiffusion.fromPretrained(path);
  }
  return StableDiffusion.fromSingleFile(path, { tokenizer: flags.tokenizer as string });
}

/**
 * `loadModel`, then applies the saved erasure in `erasure` (a folder written by `save` / `erase <method> --out`).
 * @throws as `loadModel` and `applySavedErasure` (the model is disposed on failure)
 */
export async function loadModelWithErasure(flags: ModelFlags, erasure: string | undefined): Promise<{ model: DiffusionModel; applied: AppliedErasure | undefined }> {
  const model = await loadModel(flags);
  try {
    return { model, applied: erasure === undefined ? undefined : applySavedErasure(model, erasure) };
  } catch (error) {
    model.dispose();
    throw error;
  }
}
