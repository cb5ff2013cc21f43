/**
 * `erase_config.json`: what a saved erasure folder holds and how it was made. Top-level keys are snake_case (as
 * diffusers' configs); `options` keeps the method's resolved options under their API names (camelCase): a record of
 * the run, derived values included (e.g. UCE's expanded `erasePrompts`), not an input — the method and `--config`
 * refuse those derived keys, so rerun from the options you gave (or copy the input keys out of `options`).
 *
 *   {
 *     "format": "erase.erasure", "format_version": 1, "erase_version": "0.1.0",
 *     "method": "uce", "options": { … }, "seeds": [0],
 *     "base_model": { "source": "…", "sha256": "…", "files": [{ "path", "bytes", "sha256" }] },
 *     "changed_parameters": ["…attn2.to_k.weight", …],
 *     "files": { "unet_delta": "unet_delta.safetensors", "lora": "lora.safetensors" | null, "lora_format": "peft" | null, "lora_fused": false }
 *   }
 */
import { FileFormatError } from '@erase/core';
import { readJsonConfig } from '@erase/sd';
import type { ErasureMethodName } from '../shared/erasure-result';
import type { BaseFingerprint } from './fingerprint';

export const ERASE_CONFIG_NAME = 'erase_config.json';
export const UNET_DELTA_NAME = 'unet_delta.safetensors';
export const LORA_NAME = 'lora.safetensors';
export const ERASE_CONFIG_FORMAT = 'erase.erasure';
export const ERASE_CONFIG_VERSION = 1;

/** LoRA file formats `save` writes. */
export type SavedLoraFormat = 'diffusers' | 'peft' | 'kohya';

/** The parsed `erase_config.json`. */
export interface EraseConfig {
  readonly format: typeof ERASE_CONFIG_FORMAT;
  readonly format_version: number;
  readonly erase_version: string;
  readonly method: ErasureMethodName;
  readonly options: Record<string, unknown>;
  readonly seeds: readonly number[];
  readonly base_model: BaseFingerprint;
  readonly changed_parameters: readonly string[];
  readonly files: {
    readonly unet_delta: string | null;
    readonly lora: string | null;
    readonly lora_format: SavedLoraFormat | null;
    readonly lora_fused: boolean;
  };
}

const METHODS: readonly string[] = ['uce', 'realera', 'esd', 'adversarial-preservation', 'concept-ablation'];

/**
 * Reads and checks an `erase_config.json`.
 * @throws FileFormatError naming the file when it is missing, not JSON, or lacks / mistypes a field
 */
export function readEraseConfig(path: string): EraseConfig {
  const c = readJsonConfig(path, 'the erase_config.json of a folder written by save()');
  const fail = (problem: string): never => {
    throw new FileFormatError({ file: path, expected: `an ${ERASE_CONFIG_FORMAT} config (format_version ${ERASE_CONFIG_VERSION})`, problem });
  };
  if (c.format !== ERASE_CONFIG_FORMAT) fail(`"format" is ${JSON.stringify(c.format)}`);
  if (c.format_version !== ERASE_CONFIG_VERSION) fail(`"format_version" is ${JSON.stringify(c.format_version)}`);
  if (typeof c.method !== 'string' || !METHODS.includes(c.method)) fail(`"method" is ${JSON.stringify(c.method)}`);
  if (typeof c.options !== 'object' || c.options === null) fail('"options" is not an object');
  if (!Array.isArray(c.seeds) || !c.seeds.every((s) => Number.isSafeInteger(s))) fail('"seeds" is not a list of integers');
  const base = c.base_model as Record<string, unknown> | undefined;
  if (typeof base !== 'object' || base === null || typeof base.sha256 !== 'string' || typeof base.source !== 'string' || !Array.isArray(base.files)) {
    fail('"base_model" lacks source / sha256 / files');
  }
  if (!Array.isArray(c.changed_parameters) || !c.changed_parameters.every((p) => typeof p === 'string')) fail('"changed_parameters" is not a list of names');
  const files = c.files as Record<string, unknown> | undefined;
  if (typeof files !== 'object' || files === null) return fail('"files" is not an object');
  const nameOrNull = (key: string): void => {
    const v = files[key];
    if (v !== null && (typeof v !== 'string' || v.includes('/') || v.includes('\\') || v.startsWith('.'))) fail(`"files.${key}" is not a plain file name or null`);
  };
  nameOrNull('unet_delta');
  nameOrNull('lora');
  if (files.lora !== null && !['diffusers', 'peft', 'kohya'].includes(files.lora_format as string)) fail('"files.lora_format" is not diffusers, peft or kohya');
  if (typeof files.lora_fused !== 'boolean') fail('"files.lora_fused" is not a boolean');
  return c as unknown as EraseConfig;
}
