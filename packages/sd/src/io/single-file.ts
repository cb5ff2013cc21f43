/**
 * Single-file Stable Diffusion checkpoints in the original LDM key names (what A1111 / ComfyUI / civitai use), read
 * from `.safetensors` only, returned as diffusers components (weights in diffusers/transformers names + inferred
 * configs). Pickle checkpoints (`.ckpt`, `.pt`, `.pth`, `.bin`) are refused, never unpickled.
 *
 * Prefixes: model.diffusion_model.* (UNet), first_stage_model.* (VAE), cond_stage_model.transformer.* (SD 1.x CLIP
 * ViT-L text encoder), cond_stage_model.model.* (SD 2.x OpenCLIP ViT-H text encoder). Anything else (EMA copies,
 * scheduler buffers such as alphas_cumprod) is ignored and listed in `ignoredKeys`.
 */
import { extname } from 'node:path';
import { FileFormatError, UnsupportedError } from '@erase/core';
import type { LoadedComponent } from './diffusers-folder';
import { inferClipTextConfig, inferUnetConfig, inferVaeConfig, type SdVersion } from './ldm-configs';
import { convertLdmClipText, convertOpenClipText, type ConvertedText } from './ldm-text-keys';
import { ldmUnetStructure, mapLdmUnetKey } from './ldm-unet-keys';
import { ldmVaeLevels, mapLdmVaeKey } from './ldm-vae-keys';
import { openSafetensors, pickleUnsupportedMessage, type HostTensor, type SafetensorsHandle } from './safetensors';
import type { Shaped } from './weight-keys';

export type { SdVersion } from './ldm-configs';

const UNET = 'model.diffusion_model.';
const VAE = 'first_stage_model.';
const CLIP_L = 'cond_stage_model.transformer.';
const OPEN_CLIP = 'cond_stage_model.model.';
const PICKLE_EXTENSIONS = ['.ckpt', '.pt', '.pth', '.bin'];

/** Options of `loadSingleFileCheckpoint`. */
export interface SingleFileOptions {
  /** Skip detection and treat the file as this version. */
  readonly version?: SdVersion;
  /** Config values that override the inferred ones (snake_case, e.g. `{ sample_size: 96, upcast_attention: true }`). */
  readonly unetConfig?: Readonly<Record<string, unknown>>;
  readonly vaeConfig?: Readonly<Record<string, unknown>>;
  readonly textEncoderConfig?: Readonly<Record<string, unknown>>;
  /**
   * SD 2.x only. 'penultimate' (default) drops the last OpenCLIP layer and text_projection, as diffusers' SD 2
   * text encoder (23 layers); 'all' keeps every layer and text_projection.weight.
   */
  readonly openClipLayers?: 'penultimate' | 'all';
}

/** A single-file checkpoint converted to diffusers components. */
export interface SingleFileCheckpoint {
  readonly path: string;
  readonly version: SdVersion;
  readonly metadata: Readonly<Record<string, string>>;
  readonly unet: LoadedComponent;
  /** Undefined when the file has no first_stage_model.* keys. */
  readonly vae: LoadedComponent | undefined;
  /** Undefined when the file has no cond_stage_model.* keys. */
  readonly textEncoder: LoadedComponent | undefined;
  /** Keys that were not converted (EMA weights, scheduler buffers, position_ids, dropped OpenCLIP layer, …). */
  readonly ignoredKeys: string[];
}

function rejectUnsupportedFamilies(keys: Iterable<string>, source: string): void {
  for (const key of keys) {
    if (key.startsWith('conditioner.embedders.') || key.startsWith(`${UNET}label_emb.`)) {
      throw new UnsupportedError(`${source}: this is an SDXL checkpoint (key ${key}); only SD 1.x and 2.x single files are supported.`);
    }
  }
}

/**
 * Tells SD 1.x from 2.x from header entries (names and shapes only): the text encoder family (CLIP ViT-L keys
 * `cond_stage_model.transformer.*` vs OpenCLIP `cond_stage_model.model.*`) and the UNet cross-attention context width
 * (attn2.to_k input: 768 vs 1024). Either suffices; when both are present they must agree.
 * @throws FileFormatError when there are no UNet keys or the signals contradict; UnsupportedError for SDXL or when
 *   nothing tells the version (pass `version`)
 */
export function detectSdVersion(entries: ReadonlyMap<string, Shaped>, source = 'checkpoint'): SdVersion {
  const keys = [...entries.keys()];
  rejectUnsupportedFamilies(keys, source);
  if (!keys.some((k) => k.startsWith(UNET))) {
    throw new FileFormatError({ file: source, expected: 'a single-file SD checkpoint with model.diffusion_model.* UNet keys', problem: 'it has no UNet keys' });
  }
  const hasClipL = keys.some((k) => k.startsWith(CLIP_L));
  const hasOpenClip = keys.some((k) => k.startsWith(OPEN_CLIP));
  if (hasClipL && hasOpenClip) {
    throw new FileFormatError({ file: source, expected: 'one text encoder', problem: 'it has both cond_stage_model.transformer.* and cond_stage_model.model.* keys' });
  }
  const byText: SdVersion | undefined = hasOpenClip ? 'sd2' : hasClipL ? 'sd1' : undefined;
  const contextKey = keys.find((k) => k.startsWith(UNET) && /\.attn2\.to_k\.weight$/.test(k));
  const width = contextKey ? entries.get(contextKey)?.shape[1] : undefined;
  const byWidth: SdVersion | undefined = width === 1024 ? 'sd2' : width === 768 ? 'sd1' : undefined;
  if (byText && byWidth && byText !== byWidth) {
    throw new FileFormatError({
      file: source,
      expected: 'a text encoder that matches the UNet',
      problem: `the text encoder keys say ${byText} but the UNet cross-attention width ${width} says ${byWidth}`,
    });
  }
  const version = byText ?? byWidth;
  if (!version) {
    throw new UnsupportedError(
      `${source}: cannot tell SD 1.x from 2.x (no text encoder keys and cross-attention width ${width ?? 'unknown'}); pass \`version: 'sd1' | 'sd2'\`.`,
    );
  }
  return version;
}

function listProblem(keys: readonly string[]): string {
  return `${keys.length} keys were not recognised: ${keys.slice(0, 20).join(', ')}${keys.length > 20 ? ', …' : ''}`;
}

function readPrefixed(handle: SafetensorsHandle, prefix: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const key of handle.keys()) if (key.startsWith(prefix)) out.set(key.slice(prefix.length), handle.read(key));
  return out;
}

function setUnique(file: string, target: Map<string, HostTensor>, name: string, tensor: HostTensor, from: string): void {
  if (target.has(name)) throw new FileFormatError({ file, expected: 'one source key per diffusers key', problem: `two keys map to ${name} (one is ${from})` });
  target.set(name, tensor);
}

function squeezeConv1x1(file: string, key: string, tensor: HostTensor): HostTensor {
  if (tensor.shape.length === 2) return tensor;
  const [out, inp, kh, kw] = tensor.shape;
  if (tensor.shape.length !== 4 || kh !== 1 || kw !== 1) {
    throw new FileFormatError({ file, expected: `${key} as a 1×1 conv [C, C, 1, 1] or Linear [C, C]`, problem: `it has shape [${tensor.shape.join(', ')}]` });
  }
  return { ...tensor, shape: [out as number, inp as number] }; // [C, C, 1, 1] -> [C, C], same data
}

/**
 * Reads a single-file SD 1.x/2.x checkpoint (`.safetensors`, LDM key names) as diffusers components.
 * @returns unet / vae / textEncoder with diffusers configs and weights (fresh host arrays the caller owns)
 * @throws UnsupportedError for pickle files (.ckpt/.pt/.pth/.bin), SDXL, and weights under the UNet/VAE/text prefixes
 *   stored in a dtype the reader does not decode (tensors outside them are not read); FileFormatError naming the
 *   file for a malformed file, unrecognised keys inside the UNet/VAE/text prefixes, or a missing UNet
 */
export function loadSingleFileCheckpoint(path: string, options: SingleFileOptions = {}): SingleFileCheckpoint {
  if (PICKLE_EXTENSIONS.includes(extname(path).toLowerCase())) throw new UnsupportedError(pickleUnsupportedMessage(path));
  const handle = openSafetensors(path);
  try {
    const entries = handle.entries();
    rejectUnsupportedFamilies(entries.keys(), path);
    const version = options.version ?? detectSdVersion(entries, path);
    const ignoredKeys = handle.keys().filter((k) => ![UNET, VAE, CLIP_L, OPEN_CLIP].some((p) => k.startsWith(p)));
    const unrecognised: string[] = [];

    // UNet
    const unetKeys = handle.keys().filter((k) => k.startsWith(UNET)).map((k) => k.slice(UNET.length));
    const structure = ldmUnetStructure(path, unetKeys);
    const unetWeights = new Map<string, HostTensor>();
    for (const [key, tensor] of readPrefixed(handle, UNET)) {
      const name = mapLdmUnetKey(key, structure);
      if (name === undefined) unrecognised.push(UNET + key);
      else setUnique(path, unetWeights, name, tensor, UNET + key);
    }

    // VAE
    let vaeWeights: Map<string, HostTensor> | undefined;
    const vaeTensors = readPrefixed(handle, VAE);
    if (vaeTensors.size > 0) {
      vaeWeights = new Map();
      const levels = ldmVaeLevels([...vaeTensors.keys()]);
      for (const [key, tensor] of vaeTensors) {
        if (key.startsWith('loss.')) {
          ignoredKeys.push(VAE + key);
          continue;
        }
        const mapped = mapLdmVaeKey(key, levels);
        if (!mapped) unrecognised.push(VAE + key);
        else setUnique(path, vaeWeights, mapped.name, mapped.squeeze ? squeezeConv1x1(path, VAE + key, tensor) : tensor, VAE + key);
      }
    }

    // Text encoder
    let text: ConvertedText | undefined;
    const clipL = readPrefixed(handle, CLIP_L);
    const openClip = readPrefixed(handle, OPEN_CLIP);
    if (clipL.size > 0) text = convertLdmClipText(clipL);
    else if (openClip.size > 0) text = convertOpenClipText(path, openClip, { layers: options.openClipLayers ?? 'penultimate' });
    if (text) {
      const prefix = clipL.size > 0 ? CLIP_L : OPEN_CLIP;
      ignoredKeys.push(...text.dropped.map((k) => prefix + k));
      unrecognised.push(...text.unrecognised.map((k) => prefix + k));
    }

    if (unrecognised.length > 0) {
      throw new FileFormatError({ file: path, expected: `SD ${version === 'sd1' ? '1.x' : '2.x'} LDM key names`, problem: listProblem(unrecognised.sort()) });
    }
    const unet: LoadedComponent = {
      config: inferUnetConfig(path, unetWeights, structure, version, options.unetConfig),
      weights: unetWeights,
      files: [path],
    };
    const vae: LoadedComponent | undefined = vaeWeights
      ? { config: inferVaeConfig(path, vaeWeights, version, options.vaeConfig), weights: vaeWeights, files: [path] }
      : undefined;
    const textEncoder: LoadedComponent | undefined = text
      ? { config: inferClipTextConfig(path, text.weights, version, options.textEncoderConfig), weights: text.weights, files: [path] }
      : undefined;
    return { path, version, metadata: handle.metadata, unet, vae, textEncoder, ignoredKeys: ignoredKeys.sort() };
  } finally {
    handle.close();
  }
}
