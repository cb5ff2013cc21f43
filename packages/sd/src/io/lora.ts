/**
 * LoRA files ↔ one canonical in-memory form, for every supported file format (see lora-formats.ts for the key
 * names). Canonical: per component, module path → { down [r, in], up [out, r], alpha? }, with
 * ΔW = (alpha / r) · up · down (alpha = r when absent). Conv LoRA (down [r, in, kh, kw], up [out, r, 1, 1]) passes
 * through unchanged.
 */
import { FileFormatError, InvalidOptionError, UnsupportedError } from '@erase/core';
import { kohyaResolver } from './lora-kohya';
import { LORA_FORMATS, loraKeyNames, parseLoraKey, type LoraComponent, type LoraFormat, type ParsedLoraKey } from './lora-formats';
import { openSafetensors, readSafetensors, type HostTensor } from './safetensors';
import { writeSafetensors, type TensorToWrite } from './safetensors-writer';

export type { LoraFormat, LoraComponent } from './lora-formats';

/** One LoRA-adapted module. */
export interface LoraLayer {
  /** lora_A / lora_down: [r, in] (or [r, in, kh, kw] for conv). */
  readonly down: HostTensor;
  /** lora_B / lora_up: [out, r] (or [out, r, 1, 1]). */
  readonly up: HostTensor;
  /** Network alpha; the update is scaled by alpha / r. Undefined = no alpha stored (scale 1). */
  readonly alpha?: number;
}

/**
 * Canonical LoRA weights of a file: module path → layer, per component. Each Map is what a model's runtime LoRA
 * loader takes (`LoraWeights` of src/lora: ReadonlyMap<modulePath, {down, up, alpha?}>).
 */
export interface LoraWeightsByComponent {
  /** diffusers UNet module paths, e.g. `down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`. */
  readonly unet: Map<string, LoraLayer>;
  /** transformers CLIP module paths, e.g. `text_model.encoder.layers.0.self_attn.q_proj`. */
  readonly textEncoder: Map<string, LoraLayer>;
}

/** Options for parsing/reading LoRA weights. */
export interface ParseLoraOptions {
  /** Named in errors (the file path). */
  readonly source?: string;
  /** Skip detection. */
  readonly format?: LoraFormat;
  /**
   * Module paths or weight keys of the models (e.g. the UNet's state_dict keys), used to turn kohya underscore
   * names back into dotted paths. Without a list the names are resolved from known diffusers/CLIP identifiers.
   */
  readonly knownModules?: { readonly unet?: Iterable<string>; readonly textEncoder?: Iterable<string> };
}

const LYCORIS = /(hada_w[12]_[ab]|lokr_w[12]|\.dora_scale$|lora_mid\.|\.diff$|\.diff_b$|\.on_input$)/;

function examples(keys: readonly string[]): string {
  return `${keys.slice(0, 8).join(', ')}${keys.length > 8 ? `, … (${keys.length} in all)` : ''}`;
}

/**
 * Detects a LoRA file's format from its keys: the format in which every key parses.
 * @throws UnsupportedError for LyCORIS/LoHa/LoKr/DoRA files; FileFormatError (naming `source`) when no format fits
 */
export function detectLoraFormat(keys: readonly string[], source = 'LoRA weights'): LoraFormat {
  const lycoris = keys.find((k) => LYCORIS.test(k));
  if (lycoris) throw new UnsupportedError(`${source}: key ${lycoris} is a LyCORIS/LoHa/LoKr/DoRA weight; only plain LoRA is supported.`);
  let best: { format: LoraFormat; unparsed: string[] } | undefined;
  for (const format of LORA_FORMATS) {
    const unparsed = keys.filter((k) => parseLoraKey(format, k) === undefined);
    const hasMatrices = keys.some((k) => parseLoraKey(format, k)?.part === 'down');
    if (unparsed.length === 0 && hasMatrices) return format;
    if (!best || unparsed.length < best.unparsed.length) best = { format, unparsed };
  }
  const problem =
    keys.length === 0
      ? 'it holds no tensors'
      : `no LoRA format matches every key (closest: ${best?.format}, which does not explain ${examples(best?.unparsed ?? [])})`;
  throw new FileFormatError({ file: source, expected: `LoRA weights in one of the formats ${LORA_FORMATS.join(', ')}`, problem });
}

function alphaValue(source: string, key: string, tensor: HostTensor): number {
  if (tensor.data.length !== 1) {
    throw new FileFormatError({ file: source, expected: `${key} to be a scalar`, problem: `it has shape [${tensor.shape.join(', ')}]` });
  }
  return tensor.data[0] as number;
}

/**
 * Converts LoRA tensors (file key names) to the canonical form.
 * @returns the format and fresh Maps (tensors are shared with the input, not copied)
 * @throws FileFormatError (naming `options.source`) for unknown keys, a module without down or up, ranks that
 *   disagree, non-scalar alpha, or kohya names that the known module list does not resolve; UnsupportedError for
 *   LyCORIS or SDXL-only keys
 */
export function parseLora(
  tensors: ReadonlyMap<string, HostTensor>,
  options: ParseLoraOptions = {},
): { format: LoraFormat; weights: LoraWeightsByComponent } {
  const source = options.source ?? 'LoRA weights';
  const keys = [...tensors.keys()];
  const format = options.format ?? detectLoraFormat(keys, source);
  const resolvers = {
    unet: kohyaResolver(options.knownModules?.unet),
    textEncoder: kohyaResolver(options.knownModules?.textEncoder),
  };
  const parts = new Map<string, { component: LoraComponent; module: string; down?: HostTensor; up?: HostTensor; alpha?: number; keys: string[] }>();
  const unparsed: string[] = [];
  const unresolved: string[] = [];
  for (const key of keys) {
    const parsed: ParsedLoraKey | undefined = parseLoraKey(format, key);
    if (!parsed) {
      unparsed.push(key);
      continue;
    }
    let module = parsed.module;
    if (parsed.kohya) {
      const resolution = resolvers[parsed.component](module);
      if (resolution === undefined) {
        unresolved.push(key);
        continue;
      }
      if ('ambiguous' in resolution) {
        throw new FileFormatError({ file: source, expected: 'kohya names that identify one module', problem: `${key} matches ${resolution.ambiguous.join(' and ')}` });
      }
      module = resolution.path;
    }
    const id = `${parsed.component}\u0000${module}`;
    const entry = parts.get(id) ?? { component: parsed.component, module, keys: [] };
    if (parsed.part === 'alpha' ? entry.alpha !== undefined : entry[parsed.part] !== undefined) {
      throw new FileFormatError({ file: source, expected: 'one tensor per module and part', problem: `${key} repeats ${parsed.part} of ${module} (also ${entry.keys.join(', ')})` });
    }
    const tensor = tensors.get(key) as HostTensor;
    if (parsed.part === 'alpha') entry.alpha = alphaValue(source, key, tensor);
    else entry[parsed.part] = tensor;
    entry.keys.push(key);
    parts.set(id, entry);
  }
  if (unparsed.length > 0) {
    throw new FileFormatError({ file: source, expected: `LoRA keys of the ${format} format`, problem: `these keys are not: ${examples(unparsed)}` });
  }
  if (unresolved.length > 0) {
    throw new FileFormatError({ file: source, expected: 'kohya names of modules in the given knownModules list', problem: `these do not match any: ${examples(unresolved)}` });
  }
  const weights: LoraWeightsByComponent = { unet: new Map(), textEncoder: new Map() };
  for (const entry of [...parts.values()].sort((a, b) => (a.module < b.module ? -1 : a.module > b.module ? 1 : 0))) {
    const { down, up, module } = entry;
    if (!down || !up) {
      throw new FileFormatError({ file: source, expected: `both down and up weights for ${module}`, problem: `only ${entry.keys.join(', ')} found` });
    }
    if (down.shape.length < 2 || up.shape.length < 2 || down.shape[0] !== up.shape[1] || down.dtype !== 'float32' || up.dtype !== 'float32') {
      throw new FileFormatError({
        file: source,
        expected: `${module}: float down [r, in] and up [out, r] with the same rank r`,
        problem: `down is ${down.fileDtype} [${down.shape.join(', ')}] and up is ${up.fileDtype} [${up.shape.join(', ')}]`,
      });
    }
    const layer: LoraLayer = entry.alpha === undefined ? { down, up } : { down, up, alpha: entry.alpha };
    weights[entry.component].set(module, layer);
  }
  return { format, weights };
}

/** `up` with every value times `factor` (float32). */
function scaledUp(up: HostTensor, factor: number): HostTensor {
  return { dtype: 'float32', fileDtype: 'F32', shape: up.shape, data: Float32Array.from(up.data, (v) => v * factor) }; // [out, r(, 1, 1)]
}

/**
 * Converts canonical LoRA weights to file tensors in `format` (sorted by the writer). kohya: alpha is written as an
 * F32 scalar. diffusers, peft, attn-procs: no alpha key (diffusers' `load_lora_weights` refuses a file with keys
 * lacking "lora"); an alpha other than the rank r is folded into up (up · alpha / r), so ΔW is the same and the file
 * reads back with alpha undefined (= r).
 * @throws UnsupportedError when attn-procs is asked to hold a non-attention module
 */
export function loraToTensors(weights: LoraWeightsByComponent, format: LoraFormat): Map<string, HostTensor | TensorToWrite> {
  if (!LORA_FORMATS.includes(format)) {
    throw new InvalidOptionError({ option: 'format', expected: `one of ${LORA_FORMATS.join(', ')}`, received: format });
  }
  const out = new Map<string, HostTensor | TensorToWrite>();
  for (const component of ['unet', 'textEncoder'] as const) {
    for (const [module, layer] of weights[component]) {
      const names = loraKeyNames(format, component, module);
      for (const name of [names.down, names.up, names.alpha]) {
        if (name !== undefined && out.has(name)) throw new InvalidOptionError({ option: 'weights', expected: 'modules with distinct file keys', received: name });
      }
      const rank = layer.down.shape[0] as number;
      out.set(names.down, layer.down); // [r, in(, kh, kw)]
      if (names.alpha === undefined) {
        out.set(names.up, layer.alpha === undefined || layer.alpha === rank ? layer.up : scaledUp(layer.up, layer.alpha / rank)); // [out, r(, 1, 1)]
        continue;
      }
      out.set(names.up, layer.up); // [out, r(, 1, 1)]
      if (layer.alpha !== undefined) out.set(names.alpha, { dtype: 'F32', shape: [], data: [layer.alpha] });
    }
  }
  return out;
}

/** A LoRA file read into canonical form. */
export interface LoraFile {
  readonly path: string;
  readonly format: LoraFormat;
  readonly metadata: Readonly<Record<string, string>>;
  readonly weights: LoraWeightsByComponent;
}

/**
 * Reads a LoRA `.safetensors` file in any supported format.
 * @throws FileFormatError / UnsupportedError as `openSafetensors` and `parseLora`, naming the file
 */
export function readLora(path: string, options: Omit<ParseLoraOptions, 'source'> = {}): LoraFile {
  // the format comes from the header's key names, so a file that is no LoRA (a full checkpoint) is refused
  // before gigabytes of tensors are decoded
  const handle = openSafetensors(path);
  let format: LoraFormat;
  try {
    format = options.format ?? detectLoraFormat(handle.keys(), path);
  } finally {
    handle.close();
  }
  const file = readSafetensors(path);
  const { weights } = parseLora(file.tensors, { ...options, format, source: path });
  return { path, format, metadata: file.metadata, weights };
}

/**
 * Writes canonical LoRA weights to a `.safetensors` file in `format`, atomically.
 * @param options.floatDtype file dtype of the matrices (default 'F32')
 * @throws as `loraToTensors` and `writeSafetensors`
 */
export function writeLora(
  path: string,
  weights: LoraWeightsByComponent,
  options: { readonly format: LoraFormat; readonly metadata?: Readonly<Record<string, string>>; readonly floatDtype?: 'F32' | 'F16' | 'BF16' },
): void {
  writeSafetensors(path, loraToTensors(weights, options.format), options.metadata, { floatDtype: options.floatDtype ?? 'F32' });
}
