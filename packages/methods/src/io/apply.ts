/**
 * `applySavedErasure()`: loads a folder written by `save()` back into a loaded base model — the delta's weights are
 * written into the UNet's parameters (PyTorch layout → tfjs layout by @erase/sd's `torchToTfData`), and an unfused
 * LoRA is attached (its factors as saved). Everything is read and checked before the model is touched; a failure
 * while applying restores the parameters already written.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  FileFormatError,
  UnsupportedError,
  WeightKeysError,
  type DiffusionModel,
  type LoraAdapter,
  type NoisePredictor,
} from '@erase/core';
import {
  UNet2DConditionModel,
  defaultTorchLayout,
  readLora,
  readSafetensors,
  torchShapeOf,
  torchToTfData,
  type HostTensor,
  type LoraLayer,
} from '@erase/sd';
import { ERASE_CONFIG_NAME, readEraseConfig, type EraseConfig } from './erase-config';
import { baseFingerprint, type BaseFingerprint } from './fingerprint';
import { booleanOption } from '../shared/validate';

/** Options of `applySavedErasure`. */
export interface ApplySavedErasureOptions {
  /** Check the base model's fingerprint against the saved one (default true). */
  readonly verifyBase?: boolean;
  /** The model's fingerprint when already computed (`baseFingerprint(model)`). */
  readonly fingerprint?: BaseFingerprint;
}

/** What `applySavedErasure` did. */
export interface AppliedErasure {
  readonly config: EraseConfig;
  /** Parameters overwritten from the delta file. */
  readonly changedParameters: readonly string[];
  /** The attached LoRA adapter (owned by the model; `detach()` removes it), when the folder held one. */
  readonly lora: LoraAdapter | undefined;
}

/**
 * Reads the delta file and checks every key and shape against the UNet.
 * @throws FileFormatError / WeightKeysError naming the file; UnsupportedError (naming it) for a dtype the reader does not decode
 */
function readDelta(unet: NoisePredictor, file: string, expected: readonly string[]): Map<string, HostTensor> {
  const tensors = readSafetensors(file).tensors;
  const parameters = unet.parameters();
  const names = [...tensors.keys()];
  const missing = expected.filter((name) => !tensors.has(name));
  const unexpected = names.filter((name) => !parameters.has(name) || !expected.includes(name));
  const wrongShape: { key: string; expected: number[]; received: readonly number[] }[] = [];
  for (const [name, host] of tensors) {
    const variable = parameters.get(name);
    if (!variable) continue;
    const want = torchShapeOf(variable.shape, defaultTorchLayout(variable.shape));
    if (want.length !== host.shape.length || want.some((d, i) => d !== host.shape[i])) wrongShape.push({ key: name, expected: want, received: host.shape });
    if (host.dtype !== 'float32') throw new FileFormatError({ file, expected: 'float tensors', problem: `${name} is ${host.fileDtype}` });
  }
  if (missing.length + unexpected.length + wrongShape.length > 0) throw new WeightKeysError({ source: file, missing, unexpected, wrongShape });
  return tensors as Map<string, HostTensor>;
}

function readLoraFile(unet: NoisePredictor, file: string, format: string): Map<string, LoraLayer> {
  const known = [...unet.parameters().keys()];
  const parsed = readLora(file, { format: format as 'diffusers' | 'peft' | 'kohya', knownModules: { unet: known } });
  if (parsed.weights.textEncoder.size > 0) {
    throw new FileFormatError({ file, expected: 'UNet LoRA layers only', problem: `it has ${parsed.weights.textEncoder.size} text-encoder layers` });
  }
  if (parsed.weights.unet.size === 0) throw new FileFormatError({ file, expected: 'at least one UNet LoRA layer', problem: 'it has none' });
  return parsed.weights.unet;
}

/** Attaches given factors: @erase/sd's `loadLora` when the UNet has it, else `attachLora` + assign (uniform rank and α). */
function attachSavedLora(unet: NoisePredictor, weights: Map<string, LoraLayer>, file: string): LoraAdapter {
  if (unet instanceof UNet2DConditionModel) return unet.loadLora(weights, { source: file, trainable: false });
  const layers = [...weights.values()];
  const rank = layers[0]?.down.shape[0] as number;
  const alpha = layers[0]?.alpha ?? rank;
  if (!layers.every((l) => l.down.shape[0] === rank && (l.alpha ?? rank) === alpha)) {
    throw new UnsupportedError(`${file}: layers with different ranks or alphas can only be loaded into an @erase/sd UNet.`);
  }
  const adapter = unet.attachLora({ rank, alpha, targetModules: [...weights.keys()] });
  try {
    for (const [path, layer] of weights) {
      const target = adapter.layers.get(path);
      if (!target || target.down.size !== layer.down.data.length || target.up.size !== layer.up.data.length) {
        throw new WeightKeysError({ source: file, unexpected: [path] });
      }
      tf.tidy(() => {
        target.down.assign(tf.tensor(layer.down.data, target.down.shape, 'float32')); // [r, in]
        target.up.assign(tf.tensor(layer.up.data, target.up.shape, 'float32')); // [out, r]
      });
    }
  } catch (error) {
    adapter.detach();
    throw error;
  }
  return adapter;
}

/**
 * Applies the erasure saved in `dir` to `model` (in place).
 * @throws FileFormatError naming the file when `erase_config.json`, the delta or the LoRA file is missing, truncated or
 *   malformed, or when the model's base weights are not the ones the erasure was made from (fingerprint mismatch);
 *   WeightKeysError (naming the delta file) when its keys or shapes do not fit the model; UnsupportedError for a model
 *   not loaded from disk (pass `verifyBase: false` to skip the check); InvalidOptionError when a LoRA is already attached
 */
export function applySavedErasure(model: DiffusionModel, dir: string, options: ApplySavedErasureOptions = {}): AppliedErasure {
  const verifyBase = options.verifyBase === undefined ? true : booleanOption('verifyBase', options.verifyBase);
  const configFile = join(dir, ERASE_CONFIG_NAME);
  const config = readEraseConfig(configFile);
  if (verifyBase) {
    const actual = options.fingerprint ?? baseFingerprint(model);
    if (actual.sha256 !== config.base_model.sha256) {
      throw new FileFormatError({
        file: configFile,
        expected: `a base model whose weight files hash to ${config.base_model.sha256} (${config.base_model.source})`,
        problem: `this erasure was made from another base model: ${model.source} hashes to ${actual.sha256}`,
      });
    }
  }
  const unet = model.unet;
  const deltaFile = config.files.unet_delta === null ? undefined : join(dir, config.files.unet_delta);
  const delta = deltaFile ? readDelta(unet, deltaFile, config.changed_parameters) : new Map<string, HostTensor>();
  if (!deltaFile && config.changed_parameters.length > 0) {
    throw new FileFormatError({ file: configFile, expected: 'a unet_delta file for the changed parameters', problem: '"files.unet_delta" is null' });
  }
  const loraFile = config.files.lora === null ? undefined : join(dir, config.files.lora);
  const loraWeights = loraFile ? readLoraFile(unet, loraFile, config.files.lora_format as string) : undefined;
  if (loraWeights && unet instanceof UNet2DConditionModel && unet.lora !== undefined) {
    throw new UnsupportedError(`${model.source}: a LoRA adapter is already attached; detach it before applying ${loraFile}.`);
  }

  const parameters = unet.parameters();
  const previous = new Map<string, tf.Tensor>();
  try {
    for (const [name, host] of delta) {
      const variable = parameters.get(name) as tf.Variable;
      previous.set(name, tf.clone(variable));
      const { shape, data } = torchToTfData(host, defaultTorchLayout(host.shape)); // PyTorch → tfjs layout
      tf.tidy(() => variable.assign(tf.tensor(data, shape, 'float32')));
    }
    const lora = loraWeights && loraFile ? attachSavedLora(unet, loraWeights, loraFile) : undefined;
    return { config, changedParameters: [...delta.keys()], lora };
  } catch (error) {
    for (const [name, old] of previous) (parameters.get(name) as tf.Variable).assign(old);
    throw error;
  } finally {
    for (const old of previous.values()) old.dispose();
  }
}
