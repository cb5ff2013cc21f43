/**
 * Configs as data: diffusers/transformers write snake_case `config.json`; inside the project configs are camelCase.
 * This is the one place the conversion happens.
 */
import { readFileSync } from 'node:fs';
import { FileFormatError } from '@erase/core';

/** `block_out_channels` → `blockOutChannels`; keys starting with `_` (e.g. `_class_name`) keep their underscore prefix removed: `className`. */
export function snakeToCamel(key: string): string {
  return key.replace(/^_+/, '').replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** `blockOutChannels` → `block_out_channels`. */
export function camelToSnake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * The most repeated layers a config may ask for (UNet/VAE `layers_per_block`, `transformer_layers_per_block`, CLIP
 * `num_hidden_layers`). No published model comes near (SDXL: 10 transformer layers per block; CLIP-H: 32 layers); the
 * cap turns a corrupt or hostile config into a typed error instead of a key plan too large for memory.
 */
export const MAX_REPEATED_LAYERS = 1000;

/** The most training timesteps a scheduler config may ask for (diffusers' SD configs: 1000). */
export const MAX_TRAIN_TIMESTEPS = 100_000;

/** Converts the top-level keys of a config object to camelCase (values are kept as they are). */
export function camelizeConfig(raw: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) out[snakeToCamel(key)] = value;
  return out;
}

/**
 * Reads a JSON file holding one object (a config).
 * @param what what the file should be, for the error (default "a JSON config file"), e.g. "a JSON object of options (--config)"
 * @throws FileFormatError naming the file and why: cannot be read (with the errno code), not valid JSON (with the
 *   parser's message), or not an object
 */
export function readJsonConfig(path: string, what = 'a JSON config file'): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new FileFormatError({ file: path, expected: what, problem: `cannot be read (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, cause });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new FileFormatError({ file: path, expected: `valid JSON: ${what}`, problem: `is not valid JSON (${(cause as Error).message})`, cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new FileFormatError({ file: path, expected: `${what}, a JSON object`, problem: 'the top-level value is not an object' });
  }
  return parsed as Record<string, unknown>;
}
