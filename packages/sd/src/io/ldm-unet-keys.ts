/**
 * Key map: original LDM/CompVis UNet names (`model.diffusion_model.*`, as in A1111/ComfyUI single-file checkpoints)
 * → diffusers `UNet2DConditionModel` names. Follows diffusers' `convert_ldm_unet_checkpoint`.
 *
 * Notation: L levels (len(block_out_channels)), P = layers_per_block, so each level has P resnets (+ P attentions
 * when it has cross-attention) and every level but the last ends with a downsampler.
 *   input_blocks.0.0                 → conv_in
 *   input_blocks.i.0  (i ≥ 1)        → down_blocks.b.resnets.l       b = ⌊(i−1)/(P+1)⌋, l = (i−1) mod (P+1), l < P
 *   input_blocks.i.1                 → down_blocks.b.attentions.l
 *   input_blocks.i.0.op              → down_blocks.b.downsamplers.0.conv            (l = P)
 *   middle_block.0 / .1 / .2         → mid_block.resnets.0 / attentions.0 / resnets.1
 *   output_blocks.i.0                → up_blocks.b.resnets.l       b = ⌊i/(P+1)⌋, l = i mod (P+1)
 *   output_blocks.i.1 (attention)    → up_blocks.b.attentions.l
 *   output_blocks.i.{1|2}.conv       → up_blocks.b.upsamplers.0.conv
 *   time_embed.0 / .2                → time_embedding.linear_1 / linear_2
 *   out.0 / out.2                    → conv_norm_out / conv_out
 * Resnet parts: in_layers.0 → norm1, in_layers.2 → conv1, emb_layers.1 → time_emb_proj, out_layers.0 → norm2,
 * out_layers.3 → conv2, skip_connection → conv_shortcut. Attention (SpatialTransformer) parts keep their names
 * (norm, proj_in, proj_out, transformer_blocks.N.{attn1,attn2,ff,norm1..3}); proj_in/proj_out are 1×1 convs
 * [C, C, 1, 1] in SD 1.x and Linear [C, C] in SD 2.x, in both formats.
 */
import { FileFormatError } from '@erase/core';

/** UNet layout read from LDM key names. */
export interface LdmUnetStructure {
  /** Number of resolution levels (len(block_out_channels)). */
  readonly levels: number;
  readonly layersPerBlock: number;
  /** Whether middle_block has a SpatialTransformer between its two resnets. */
  readonly midHasAttention: boolean;
}

const RESNET_PARTS: readonly (readonly [string, string])[] = [
  ['in_layers.0.', 'norm1.'],
  ['in_layers.2.', 'conv1.'],
  ['emb_layers.1.', 'time_emb_proj.'],
  ['out_layers.0.', 'norm2.'],
  ['out_layers.3.', 'conv2.'],
  ['skip_connection.', 'conv_shortcut.'],
];

function mapResnetPart(rest: string): string | undefined {
  for (const [from, to] of RESNET_PARTS) if (rest.startsWith(from)) return to + rest.slice(from.length);
  return undefined;
}

/**
 * Reads levels and layers per block from UNet keys without the `model.diffusion_model.` prefix.
 * @throws FileFormatError (naming `file`) when the blocks do not form an SD UNet
 */
export function ldmUnetStructure(file: string, keys: readonly string[]): LdmUnetStructure {
  const inputs = new Set<number>();
  const outputs = new Set<number>();
  const downsampleSet = new Set<number>();
  const middle = new Set<number>();
  for (const key of keys) {
    let m = /^input_blocks\.(\d+)\.(\d+)\.(.*)$/.exec(key);
    if (m) {
      inputs.add(Number(m[1]));
      if (m[2] === '0' && (m[3] as string).startsWith('op.')) downsampleSet.add(Number(m[1]));
      continue;
    }
    m = /^output_blocks\.(\d+)\./.exec(key);
    if (m) {
      outputs.add(Number(m[1]));
      continue;
    }
    m = /^middle_block\.(\d+)\./.exec(key);
    if (m) middle.add(Number(m[1]));
  }
  const fail = (problem: string): FileFormatError =>
    new FileFormatError({ file, expected: 'an SD UNet in LDM names (model.diffusion_model.input_blocks/middle_block/output_blocks)', problem });
  const downsamplers = [...downsampleSet].sort((a, b) => a - b);
  const inputCount = inputs.size === 0 ? 0 : Math.max(...inputs) + 1;
  const outputCount = outputs.size === 0 ? 0 : Math.max(...outputs) + 1;
  if (inputCount < 2 || inputs.size !== inputCount) throw fail(`input_blocks are missing or not numbered 0..n-1 (found ${[...inputs].sort((a, b) => a - b).join(', ') || 'none'})`);
  // input_blocks count = 1 + L·P + (L−1) = L·(P+1); the first downsampler sits at index P+1.
  const firstDown = downsamplers.length > 0 ? Math.min(...downsamplers) : inputCount;
  const layersPerBlock = firstDown - 1;
  const levels = inputCount / (layersPerBlock + 1);
  if (layersPerBlock < 1 || !Number.isInteger(levels) || downsamplers.length !== levels - 1) {
    throw fail(`${inputCount} input_blocks with downsamplers at ${downsamplers.join(', ') || 'none'} do not form levels of equal size`);
  }
  if (outputCount !== levels * (layersPerBlock + 1) || outputs.size !== outputCount) {
    throw fail(`expected ${levels * (layersPerBlock + 1)} output_blocks for ${levels} levels × ${layersPerBlock + 1}, found ${outputs.size}`);
  }
  if (!(middle.size === 3 || middle.size === 2) || Math.max(...middle) + 1 !== middle.size) {
    throw fail(`middle_block must have 2 or 3 parts, found ${[...middle].join(', ') || 'none'}`);
  }
  return { levels, layersPerBlock, midHasAttention: middle.size === 3 };
}

/** Maps one UNet key (without `model.diffusion_model.`) to its diffusers name; undefined when not recognised. */
export function mapLdmUnetKey(key: string, structure: LdmUnetStructure): string | undefined {
  const per = structure.layersPerBlock + 1;
  if (key.startsWith('time_embed.0.')) return `time_embedding.linear_1.${key.slice('time_embed.0.'.length)}`;
  if (key.startsWith('time_embed.2.')) return `time_embedding.linear_2.${key.slice('time_embed.2.'.length)}`;
  if (key.startsWith('input_blocks.0.0.')) return `conv_in.${key.slice('input_blocks.0.0.'.length)}`;
  if (key.startsWith('out.0.')) return `conv_norm_out.${key.slice('out.0.'.length)}`;
  if (key.startsWith('out.2.')) return `conv_out.${key.slice('out.2.'.length)}`;

  let m = /^input_blocks\.(\d+)\.(\d+)\.(.+)$/.exec(key);
  if (m) {
    const i = Number(m[1]);
    const j = Number(m[2]);
    const rest = m[3] as string;
    const block = Math.floor((i - 1) / per);
    const layer = (i - 1) % per;
    if (layer < structure.layersPerBlock) {
      if (j === 0) return prefixed(`down_blocks.${block}.resnets.${layer}.`, mapResnetPart(rest));
      if (j === 1) return `down_blocks.${block}.attentions.${layer}.${rest}`;
      return undefined;
    }
    if (j === 0 && rest.startsWith('op.')) return `down_blocks.${block}.downsamplers.0.conv.${rest.slice(3)}`;
    return undefined;
  }
  m = /^middle_block\.(\d+)\.(.+)$/.exec(key);
  if (m) {
    const j = Number(m[1]);
    const rest = m[2] as string;
    const resnet = (index: number): string | undefined => prefixed(`mid_block.resnets.${index}.`, mapResnetPart(rest));
    if (j === 0) return resnet(0);
    if (structure.midHasAttention) return j === 1 ? `mid_block.attentions.0.${rest}` : j === 2 ? resnet(1) : undefined;
    return j === 1 ? resnet(1) : undefined;
  }
  m = /^output_blocks\.(\d+)\.(\d+)\.(.+)$/.exec(key);
  if (m) {
    const i = Number(m[1]);
    const j = Number(m[2]);
    const rest = m[3] as string;
    const block = Math.floor(i / per);
    const layer = i % per;
    if (j === 0) return prefixed(`up_blocks.${block}.resnets.${layer}.`, mapResnetPart(rest));
    if (rest.startsWith('conv.') && (j === 1 || j === 2) && layer === structure.layersPerBlock) {
      return `up_blocks.${block}.upsamplers.0.conv.${rest.slice(5)}`;
    }
    if (j === 1) return `up_blocks.${block}.attentions.${layer}.${rest}`;
    return undefined;
  }
  return undefined;
}

function prefixed(prefix: string, rest: string | undefined): string | undefined {
  return rest === undefined ? undefined : prefix + rest;
}
