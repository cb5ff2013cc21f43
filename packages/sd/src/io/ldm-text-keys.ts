/**
 * Key maps for the text encoder of single-file SD checkpoints → transformers `CLIPTextModel` names.
 *
 * SD 1.x (`cond_stage_model.transformer.*`, a transformers CLIPTextModel saved inside LDM):
 *   [text_model.]X → text_model.X   (older files lack the `text_model.` level); `embeddings.position_ids` dropped.
 * SD 2.x (`cond_stage_model.model.*`, OpenCLIP ViT-H/14 text tower), as diffusers' `convert_open_clip_checkpoint`:
 *   token_embedding.weight                    → text_model.embeddings.token_embedding.weight
 *   positional_embedding        [T, D]        → text_model.embeddings.position_embedding.weight
 *   transformer.resblocks.N.ln_1 / ln_2       → text_model.encoder.layers.N.layer_norm1 / layer_norm2
 *   ….attn.in_proj_weight       [3D, D]       → ….self_attn.{q,k,v}_proj.weight, rows [0,D), [D,2D), [2D,3D)
 *   ….attn.in_proj_bias         [3D]          → ….self_attn.{q,k,v}_proj.bias
 *   ….attn.out_proj                           → ….self_attn.out_proj
 *   ….mlp.c_fc / mlp.c_proj                   → ….mlp.fc1 / mlp.fc2
 *   ln_final                                  → text_model.final_layer_norm
 *   text_projection             [D, P]        → text_projection.weight [P, D] (transposed; CLIPTextModelWithProjection)
 *   logit_scale, attn_mask                    → dropped
 * SD 2.x uses the penultimate layer's output (+ final LN); diffusers' SD2 text encoder therefore has 23 of the 24
 * layers and no text_projection. `layers: 'penultimate'` (default) reproduces that; `'all'` keeps everything.
 */
import { FileFormatError } from '@erase/core';
import type { HostTensor } from './safetensors';

/** Result of a text encoder key conversion. */
export interface ConvertedText {
  readonly weights: Map<string, HostTensor>;
  /** Input keys deliberately dropped (buffers, unused layers). */
  readonly dropped: string[];
  /** Input keys that matched no rule. */
  readonly unrecognised: string[];
}

const CLIP_KEY = /^(embeddings\.(token_embedding|position_embedding)\.weight|encoder\.layers\.\d+\.(self_attn\.(q|k|v|out)_proj|layer_norm1|layer_norm2|mlp\.fc1|mlp\.fc2)\.(weight|bias)|final_layer_norm\.(weight|bias))$/;

/** SD 1.x: keys without the `cond_stage_model.transformer.` prefix. */
export function convertLdmClipText(tensors: ReadonlyMap<string, HostTensor>): ConvertedText {
  const weights = new Map<string, HostTensor>();
  const dropped: string[] = [];
  const unrecognised: string[] = [];
  for (const [key, tensor] of tensors) {
    const inner = key.startsWith('text_model.') ? key.slice('text_model.'.length) : key;
    if (inner === 'embeddings.position_ids') dropped.push(key);
    else if (CLIP_KEY.test(inner)) weights.set(`text_model.${inner}`, tensor);
    else unrecognised.push(key);
  }
  return { weights, dropped, unrecognised };
}

/** Rows [from, to) of a row-major tensor whose first dimension is split. */
function rows(tensor: HostTensor, from: number, to: number): HostTensor {
  const inner = tensor.shape.slice(1).reduce((a, b) => a * b, 1);
  return { ...tensor, shape: [to - from, ...tensor.shape.slice(1)], data: tensor.data.slice(from * inner, to * inner) }; // [3D, …] -> [to-from, …]
}

function transpose2d(tensor: HostTensor): HostTensor {
  const [r, c] = tensor.shape as [number, number];
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = tensor.data[i * c + j] as number;
  return { ...tensor, dtype: 'float32', shape: [c, r], data: out }; // [D, P] -> [P, D]
}

/** Number of OpenCLIP residual blocks in keys without the `cond_stage_model.model.` prefix. */
export function openClipLayerCount(keys: Iterable<string>): number {
  let count = 0;
  for (const key of keys) {
    const m = /^transformer\.resblocks\.(\d+)\./.exec(key);
    if (m) count = Math.max(count, Number(m[1]) + 1);
  }
  return count;
}

/**
 * SD 2.x: keys without the `cond_stage_model.model.` prefix.
 * @throws FileFormatError (naming `file`) when an in_proj tensor's first dimension is not 3·D
 */
export function convertOpenClipText(
  file: string,
  tensors: ReadonlyMap<string, HostTensor>,
  options: { layers?: 'penultimate' | 'all' } = {},
): ConvertedText {
  const keepAll = options.layers === 'all';
  const layerCount = openClipLayerCount(tensors.keys());
  const weights = new Map<string, HostTensor>();
  const dropped: string[] = [];
  const unrecognised: string[] = [];
  for (const [key, tensor] of tensors) {
    if (key === 'token_embedding.weight') weights.set('text_model.embeddings.token_embedding.weight', tensor);
    else if (key === 'positional_embedding') weights.set('text_model.embeddings.position_embedding.weight', tensor);
    else if (key === 'ln_final.weight' || key === 'ln_final.bias') weights.set(`text_model.final_layer_norm.${key.slice('ln_final.'.length)}`, tensor);
    else if (key === 'text_projection') {
      if (!keepAll) dropped.push(key);
      else if (tensor.shape.length === 2) weights.set('text_projection.weight', transpose2d(tensor));
      else unrecognised.push(key);
    } else if (key === 'logit_scale' || key === 'attn_mask') dropped.push(key);
    else {
      const m = /^transformer\.resblocks\.(\d+)\.(.+)$/.exec(key);
      if (!m) {
        unrecognised.push(key);
        continue;
      }
      const layer = Number(m[1]);
      if (!keepAll && layer === layerCount - 1) {
        dropped.push(key);
        continue;
      }
      const prefix = `text_model.encoder.layers.${layer}.`;
      const mapped = mapResblockPart(m[2] as string);
      if (mapped) weights.set(prefix + mapped, tensor);
      else if (m[2] === 'attn.in_proj_weight' || m[2] === 'attn.in_proj_bias') {
        const kind = m[2] === 'attn.in_proj_weight' ? 'weight' : 'bias';
        const total = tensor.shape[0] as number;
        if (total % 3 !== 0 || (kind === 'weight' && tensor.shape.length !== 2) || (kind === 'bias' && tensor.shape.length !== 1)) {
          throw new FileFormatError({ file, expected: `cond_stage_model.model.${key} of shape [3·D${kind === 'weight' ? ', D' : ''}]`, problem: `it has shape [${tensor.shape.join(', ')}]` });
        }
        const d = total / 3;
        weights.set(`${prefix}self_attn.q_proj.${kind}`, rows(tensor, 0, d));
        weights.set(`${prefix}self_attn.k_proj.${kind}`, rows(tensor, d, 2 * d));
        weights.set(`${prefix}self_attn.v_proj.${kind}`, rows(tensor, 2 * d, 3 * d));
      } else unrecognised.push(key);
    }
  }
  return { weights, dropped, unrecognised };
}

function mapResblockPart(part: string): string | undefined {
  const m = /^(ln_1|ln_2|attn\.out_proj|mlp\.c_fc|mlp\.c_proj)\.(weight|bias)$/.exec(part);
  if (!m) return undefined;
  const names: Record<string, string> = {
    ln_1: 'layer_norm1',
    ln_2: 'layer_norm2',
    'attn.out_proj': 'self_attn.out_proj',
    'mlp.c_fc': 'mlp.fc1',
    'mlp.c_proj': 'mlp.fc2',
  };
  return `${names[m[1] as string] as string}.${m[2]}`;
}
