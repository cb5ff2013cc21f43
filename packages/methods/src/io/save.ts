/**
 * `save()`: writes an erasure result next to (never into) its base model, as a folder of
 *   unet_delta.safetensors   the current values of `result.changedParameters`, read from the model, under diffusers
 *                            state-dict names in PyTorch layout ([out, in] linear, [out, in, kh, kw] conv; converted
 *                            from tfjs layouts by @erase/sd's `tensorToTorch`), `__metadata__.format = "pt"`;
 *   lora.safetensors         the trained LoRA when the result has one that was not fused (diffusers/PEFT keys by
 *                            default, `loraFormat: 'kohya'` for kohya/A1111 names), through @erase/sd's `writeLora`;
 *   erase_config.json        method, resolved options, seeds, package version, base `source` and fingerprint
 *                            (erase-config.ts).
 * The folder is written atomically (staging.ts); the base model's files are only read (to fingerprint them).
 */
import { join } from 'node:path';
import { InvalidOptionError, WeightKeysError, reportProgress, throwIfAborted, type DiffusionModel, type LongRunningOptions, writeJsonFileAtomic } from '@erase/core';
import { tensorToTorch, writeLora, writeSafetensors, type HostTensor, type LoraLayer } from '@erase/sd';
import type { ErasureResultBase } from '../shared/erasure-result';
import {
  ERASE_CONFIG_FORMAT,
  ERASE_CONFIG_NAME,
  ERASE_CONFIG_VERSION,
  LORA_NAME,
  UNET_DELTA_NAME,
  type EraseConfig,
  type SavedLoraFormat,
} from './erase-config';
import { baseFingerprint, modelLocation, type BaseFingerprint } from './fingerprint';
import { writeFolderAtomic } from './staging';
import { booleanOption } from '../shared/validate';
import { ERASE_VERSION } from './version';


/** Options of `save`. */
export interface SaveOptions extends LongRunningOptions {
  /** Replace a folder that already holds entries. Default false. */
  readonly overwrite?: boolean;
  /** LoRA file format. Default 'peft' (diffusers ≥ 0.26 / PEFT keys: `unet.<module>.lora_A.weight`). */
  readonly loraFormat?: SavedLoraFormat;
  /** The base fingerprint, when the caller computed it already (`baseFingerprint(model)`); else computed here. */
  readonly fingerprint?: BaseFingerprint;
  /** Seeds to record; default `[options.seed]` when the resolved options have one, else `[]`. */
  readonly seeds?: readonly number[];
}

/** What `save` wrote. */
export interface SavedErasure {
  /** The folder (as given). */
  readonly dir: string;
  /** File names inside it. */
  readonly files: readonly string[];
  readonly config: EraseConfig;
}

/** The delta tensors: each changed parameter's current value, PyTorch layout. @throws WeightKeysError for unknown names */
function readDelta(model: DiffusionModel, names: readonly string[]): Map<string, HostTensor> {
  const parameters = model.unet.parameters();
  const missing = names.filter((name) => !parameters.has(name));
  if (missing.length > 0) throw new WeightKeysError({ source: `${model.source} (result.changedParameters)`, missing });
  const out = new Map<string, HostTensor>();
  for (const name of names) out.set(name, tensorToTorch(parameters.get(name) as NonNullable<ReturnType<typeof parameters.get>>)); // tfjs → PyTorch layout
  return out;
}

function checkResult(result: ErasureResultBase): void {
  if (typeof result !== 'object' || result === null || typeof result.method !== 'string') {
    throw new InvalidOptionError({ option: 'result', expected: 'an erasure result (with method, options, changedParameters)', received: result });
  }
  if (!Array.isArray(result.changedParameters) || !result.changedParameters.every((p) => typeof p === 'string')) {
    throw new InvalidOptionError({ option: 'result.changedParameters', expected: 'a list of UNet parameter names', received: result.changedParameters });
  }
  if (new Set(result.changedParameters).size !== result.changedParameters.length) {
    throw new InvalidOptionError({ option: 'result.changedParameters', expected: 'distinct names', received: result.changedParameters });
  }
  if (result.changedParameters.length === 0 && result.lora === undefined) {
    throw new InvalidOptionError({
      option: 'result',
      expected: 'a result that changed the model (changed parameters or a LoRA)',
      received: `${result.method} result with no changed parameters and no LoRA`,
      message:
        `save: the ${result.method} result changed nothing in the model (no changed parameters, no LoRA), so there is nothing to save ` +
        '(uce with inPlace: false returns its edit without writing it: run it in place, or write its weights into the model first).',
    });
  }
}

function defaultSeeds(options: object): number[] {
  const seed = (options as { seed?: unknown }).seed;
  return Number.isSafeInteger(seed) ? [seed as number] : [];
}

/**
 * Saves `result` (applied to `model`) into the folder `dir`. Progress: stage `save.write`, one event per file.
 * @returns the files written and the config
 * @throws InvalidOptionError for a bad result/option, a non-empty `dir` without `overwrite`, or a `dir` that is, holds or
 *   lies inside the base model's folder or file; WeightKeysError when a
 *   changed parameter is not a UNet parameter; UnsupportedError when the model was not loaded from disk (no fingerprint);
 *   FileFormatError when something cannot be written; AbortedError (nothing is left behind)
 */
export async function save(model: DiffusionModel, result: ErasureResultBase, dir: string, options: SaveOptions = {}): Promise<SavedErasure> {
  checkResult(result);
  const overwrite = options.overwrite === undefined ? false : booleanOption('overwrite', options.overwrite);
  const loraFormat = options.loraFormat ?? 'peft';
  if (!['diffusers', 'peft', 'kohya'].includes(loraFormat)) {
    throw new InvalidOptionError({ option: 'loraFormat', expected: "'diffusers', 'peft' or 'kohya'", received: loraFormat });
  }
  const seeds = options.seeds === undefined ? defaultSeeds(result.options) : [...options.seeds];
  if (!seeds.every((s) => Number.isSafeInteger(s))) throw new InvalidOptionError({ option: 'seeds', expected: 'a list of integers', received: options.seeds });
  const fingerprint = options.fingerprint ?? baseFingerprint(model);
  const delta = result.changedParameters.length > 0 ? readDelta(model, result.changedParameters) : undefined;
  const lora = result.lora !== undefined && !result.lora.fused ? result.lora : undefined;
  const config: EraseConfig = {
    format: ERASE_CONFIG_FORMAT,
    format_version: ERASE_CONFIG_VERSION,
    erase_version: ERASE_VERSION,
    method: result.method,
    options: JSON.parse(JSON.stringify(result.options)) as Record<string, unknown>,
    seeds,
    base_model: fingerprint,
    changed_parameters: [...result.changedParameters],
    files: {
      unet_delta: delta ? UNET_DELTA_NAME : null,
      lora: lora ? LORA_NAME : null,
      lora_format: lora ? loraFormat : null,
      lora_fused: result.lora?.fused ?? false,
    },
  };
  const files = [...(delta ? [UNET_DELTA_NAME] : []), ...(lora ? [LORA_NAME] : []), ERASE_CONFIG_NAME];
  let step = 0;
  const done = (file: string): void => {
    reportProgress(options.onProgress, { stage: 'save.write', step: ++step, total: files.length, message: file });
    throwIfAborted(options.signal, 'save');
  };
  throwIfAborted(options.signal, 'save');
  const location = modelLocation(model);
  const protect = location ? [{ path: location.path, what: 'the base model' }] : [];
  await writeFolderAtomic(dir, { overwrite, protect }, (staging) => {
    if (delta) {
      writeSafetensors(join(staging, UNET_DELTA_NAME), delta, { format: 'pt', erase_method: result.method, erase_version: ERASE_VERSION });
      done(UNET_DELTA_NAME);
    }
    if (lora) {
      const unet = new Map<string, LoraLayer>([...lora.weights].map(([path, layer]) => [path, { down: layer.down, up: layer.up, alpha: layer.alpha }]));
      writeLora(join(staging, LORA_NAME), { unet, textEncoder: new Map() }, { format: loraFormat, metadata: { format: 'pt', erase_method: result.method } });
      done(LORA_NAME);
    }
    writeJsonFileAtomic(join(staging, ERASE_CONFIG_NAME), config);
    done(ERASE_CONFIG_NAME);
  });
  return { dir, files, config };
}
