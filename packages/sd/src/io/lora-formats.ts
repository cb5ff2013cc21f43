/**
 * LoRA file key names, per format (pure key conversion, no model code). For a module path M (diffusers UNet path
 * such as `down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`, or transformers CLIP path such as
 * `text_model.encoder.layers.0.self_attn.q_proj`), down = lora_A [r, in], up = lora_B [out, r]:
 *
 *   diffusers (0.25): unet.M.lora.down.weight / unet.M.lora.up.weight   [unet.M.alpha: read, never written]
 *                     text_encoder.M.lora_linear_layer.down.weight / …up.weight
 *   peft:             [unet.|text_encoder.|base_model.model.]M.lora_A[.<adapter>].weight / lora_B   [M.alpha: read only]
 *   attn-procs:       <attn>.processor.{to_q,to_k,to_v,to_out}_lora.{down,up}.weight   (M = <attn>.to_q … <attn>.to_out.0)
 *                     text_encoder.<attn>.{to_q,…,to_out}_lora.{down,up}.weight      (M = <attn>.q_proj … out_proj)
 *   kohya:            lora_unet_<M with _>.lora_down.weight / .lora_up.weight / .alpha  (lora_te_ for the text encoder)
 *
 * Effective update: ΔW = (alpha / r) · up · down, with alpha = r when absent (diffusers' network_alpha = None).
 * Only kohya files carry alpha in a way diffusers reads (`load_lora_weights` converts kohya keys and refuses any other
 * file holding a key without "lora" in it), so the writers of the other three formats store no alpha key: they fold
 * alpha / r into up instead (`loraToTensors`), which leaves ΔW unchanged.
 */
import { UnsupportedError } from '@erase/core';
import { toKohyaName } from './lora-kohya';

/** The LoRA file formats this library reads and writes. */
export type LoraFormat = 'diffusers' | 'peft' | 'attn-procs' | 'kohya';

/** All formats, in detection order. */
export const LORA_FORMATS: readonly LoraFormat[] = ['kohya', 'attn-procs', 'diffusers', 'peft'];

/** Which model a LoRA module belongs to. */
export type LoraComponent = 'unet' | 'textEncoder';

/** A parsed file key. `module` is a diffusers path, except for kohya where it is the underscore name (`kohyaName`). */
export interface ParsedLoraKey {
  readonly component: LoraComponent;
  readonly module: string;
  readonly part: 'down' | 'up' | 'alpha';
  /** True when `module` is a kohya underscore name still to be resolved. */
  readonly kohya?: boolean;
}

const componentOf = (prefix: string | undefined, module: string): LoraComponent =>
  prefix === 'text_encoder' || (prefix === undefined && module.startsWith('text_model.')) ? 'textEncoder' : 'unet';

const LEGACY_UNET_PROJ: Readonly<Record<string, string>> = { to_q: 'to_q', to_k: 'to_k', to_v: 'to_v', to_out: 'to_out.0' };
const LEGACY_TEXT_PROJ: Readonly<Record<string, string>> = { to_q: 'q_proj', to_k: 'k_proj', to_v: 'v_proj', to_out: 'out_proj' };

/**
 * Parses one key in a given format; undefined when the key is not of that format.
 * @throws UnsupportedError for kohya SDXL second text encoder keys (`lora_te2_`)
 */
export function parseLoraKey(format: LoraFormat, key: string): ParsedLoraKey | undefined {
  let m: RegExpExecArray | null;
  switch (format) {
    case 'diffusers':
      m = /^(unet|text_encoder)\.(.+)\.(?:lora|lora_linear_layer)\.(down|up)\.weight$/.exec(key);
      if (m) return { component: componentOf(m[1], m[2] as string), module: m[2] as string, part: m[3] as 'down' | 'up' };
      m = /^(unet|text_encoder)\.(.+)\.alpha$/.exec(key);
      if (m) return { component: componentOf(m[1], m[2] as string), module: m[2] as string, part: 'alpha' };
      return undefined;
    case 'peft':
      m = /^(?:(unet|text_encoder)\.|base_model\.model\.)?(.+)\.lora_(A|B)(?:\.[A-Za-z0-9_-]+)?\.weight$/.exec(key);
      if (m) return { component: componentOf(m[1], m[2] as string), module: m[2] as string, part: m[3] === 'A' ? 'down' : 'up' };
      m = /^(?:(unet|text_encoder)\.|base_model\.model\.)?(.+)\.alpha$/.exec(key);
      if (m && !m[2]?.startsWith('lora_')) return { component: componentOf(m[1], m[2] as string), module: m[2] as string, part: 'alpha' };
      return undefined;
    case 'attn-procs':
      m = /^text_encoder\.(.+)\.(to_q|to_k|to_v|to_out)_lora\.(down|up)\.weight$/.exec(key);
      if (m) return { component: 'textEncoder', module: `${m[1]}.${LEGACY_TEXT_PROJ[m[2] as string]}`, part: m[3] as 'down' | 'up' };
      m = /^(?:unet\.)?(.+)\.processor\.(to_q|to_k|to_v|to_out)_lora\.(down|up)\.weight$/.exec(key);
      if (m) return { component: 'unet', module: `${m[1]}.${LEGACY_UNET_PROJ[m[2] as string]}`, part: m[3] as 'down' | 'up' };
      return undefined;
    case 'kohya':
      m = /^lora_(unet|te1|te2|te)_([^.]+)\.(lora_down\.weight|lora_up\.weight|alpha)$/.exec(key);
      if (!m) return undefined;
      if (m[1] === 'te2') throw new UnsupportedError(`LoRA key ${key} targets SDXL's second text encoder, which is not supported (SD 1.x/2.x only).`);
      return {
        component: m[1] === 'unet' ? 'unet' : 'textEncoder',
        module: m[2] as string,
        part: m[3] === 'alpha' ? 'alpha' : m[3] === 'lora_down.weight' ? 'down' : 'up',
        kohya: true,
      };
  }
}

/** File key names of one module in a format. */
export interface LoraKeyNames {
  readonly down: string;
  readonly up: string;
  /** Undefined when the format has no alpha key diffusers would load (all but kohya: alpha is folded into up). */
  readonly alpha: string | undefined;
}

/**
 * Key names to write one module under.
 * @throws UnsupportedError when the attn-procs format cannot express the module (only attention q/k/v/out projections)
 */
export function loraKeyNames(format: LoraFormat, component: LoraComponent, module: string): LoraKeyNames {
  const prefix = component === 'unet' ? 'unet' : 'text_encoder';
  switch (format) {
    case 'diffusers': {
      const infix = component === 'unet' ? 'lora' : 'lora_linear_layer';
      return { down: `${prefix}.${module}.${infix}.down.weight`, up: `${prefix}.${module}.${infix}.up.weight`, alpha: undefined };
    }
    case 'peft':
      return { down: `${prefix}.${module}.lora_A.weight`, up: `${prefix}.${module}.lora_B.weight`, alpha: undefined };
    case 'kohya': {
      const name = `lora_${component === 'unet' ? 'unet' : 'te'}_${toKohyaName(module)}`;
      return { down: `${name}.lora_down.weight`, up: `${name}.lora_up.weight`, alpha: `${name}.alpha` };
    }
    case 'attn-procs': {
      if (component === 'unet') {
        const m = /^(.+)\.(to_q|to_k|to_v|to_out\.0)$/.exec(module);
        if (!m) throw legacyUnsupported(module);
        const proj = m[2] === 'to_out.0' ? 'to_out' : (m[2] as string);
        return { down: `${m[1]}.processor.${proj}_lora.down.weight`, up: `${m[1]}.processor.${proj}_lora.up.weight`, alpha: undefined };
      }
      const m = /^(.+)\.(q_proj|k_proj|v_proj|out_proj)$/.exec(module);
      if (!m) throw legacyUnsupported(module);
      const proj = `to_${(m[2] as string).replace('_proj', '')}`;
      return { down: `text_encoder.${m[1]}.${proj}_lora.down.weight`, up: `text_encoder.${m[1]}.${proj}_lora.up.weight`, alpha: undefined };
    }
  }
}

function legacyUnsupported(module: string): UnsupportedError {
  return new UnsupportedError(
    `The attn-procs LoRA format only holds attention projections (to_q/to_k/to_v/to_out.0, q/k/v/out_proj); module ${module} ` +
      "cannot be written in it. Use format 'diffusers', 'peft' or 'kohya'.",
  );
}
