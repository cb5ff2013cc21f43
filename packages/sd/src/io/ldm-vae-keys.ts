/**
 * Key map: original LDM VAE names (`first_stage_model.*`) → diffusers `AutoencoderKL` names. Follows diffusers'
 * `convert_ldm_vae_checkpoint`.
 *
 * Notation: L levels. The LDM decoder numbers its `up` levels from the lowest resolution's opposite end, so
 * decoder.up.i ↔ decoder.up_blocks.(L−1−i).
 *   {encoder,decoder}.conv_in / conv_out         → same names
 *   {encoder,decoder}.norm_out                   → conv_norm_out
 *   encoder.down.i.block.j                       → encoder.down_blocks.i.resnets.j
 *   encoder.down.i.downsample.conv               → encoder.down_blocks.i.downsamplers.0.conv
 *   decoder.up.i.block.j                         → decoder.up_blocks.(L−1−i).resnets.j
 *   decoder.up.i.upsample.conv                   → decoder.up_blocks.(L−1−i).upsamplers.0.conv
 *   {enc,dec}.mid.block_1 / block_2              → mid_block.resnets.0 / resnets.1
 *   {enc,dec}.mid.attn_1.{norm,q,k,v,proj_out}   → mid_block.attentions.0.{group_norm,to_q,to_k,to_v,to_out.0}
 *   quant_conv / post_quant_conv                 → same names
 * Resnet part nin_shortcut → conv_shortcut. The attention q/k/v/proj_out weights are 1×1 convs [C, C, 1, 1] in LDM
 * and Linear [C, C] in diffusers: the trailing 1×1 is squeezed.
 */

/** A mapped VAE key. */
export interface MappedVaeKey {
  readonly name: string;
  /** True when a [C, C, 1, 1] conv weight must become a Linear [C, C]. */
  readonly squeeze: boolean;
}

const ATTENTION_PARTS: Readonly<Record<string, string>> = {
  norm: 'group_norm',
  q: 'to_q',
  k: 'to_k',
  v: 'to_v',
  proj_out: 'to_out.0',
};

function resnetPart(rest: string): string {
  return rest.startsWith('nin_shortcut.') ? `conv_shortcut.${rest.slice('nin_shortcut.'.length)}` : rest;
}

const RESNET_REST = /^(norm1|conv1|norm2|conv2|nin_shortcut)\.(weight|bias)$/;

/** Number of decoder `up` levels in VAE keys without the `first_stage_model.` prefix. */
export function ldmVaeLevels(keys: readonly string[]): number {
  let levels = 0;
  for (const key of keys) {
    const m = /^decoder\.up\.(\d+)\./.exec(key);
    if (m) levels = Math.max(levels, Number(m[1]) + 1);
  }
  return levels;
}

/** Maps one VAE key (without `first_stage_model.`) to its diffusers name; undefined when not recognised. */
export function mapLdmVaeKey(key: string, levels: number): MappedVaeKey | undefined {
  const plain = (name: string): MappedVaeKey => ({ name, squeeze: false });
  let m = /^(encoder|decoder)\.(conv_in|conv_out|norm_out)\.(weight|bias)$/.exec(key);
  if (m) return plain(`${m[1]}.${m[2] === 'norm_out' ? 'conv_norm_out' : m[2]}.${m[3]}`);
  m = /^(quant_conv|post_quant_conv)\.(weight|bias)$/.exec(key);
  if (m) return plain(key);
  m = /^encoder\.down\.(\d+)\.block\.(\d+)\.(.+)$/.exec(key);
  if (m && RESNET_REST.test(m[3] as string)) return plain(`encoder.down_blocks.${m[1]}.resnets.${m[2]}.${resnetPart(m[3] as string)}`);
  m = /^encoder\.down\.(\d+)\.downsample\.conv\.(weight|bias)$/.exec(key);
  if (m) return plain(`encoder.down_blocks.${m[1]}.downsamplers.0.conv.${m[2]}`);
  m = /^decoder\.up\.(\d+)\.block\.(\d+)\.(.+)$/.exec(key);
  if (m && RESNET_REST.test(m[3] as string)) {
    return plain(`decoder.up_blocks.${levels - 1 - Number(m[1])}.resnets.${m[2]}.${resnetPart(m[3] as string)}`);
  }
  m = /^decoder\.up\.(\d+)\.upsample\.conv\.(weight|bias)$/.exec(key);
  if (m) return plain(`decoder.up_blocks.${levels - 1 - Number(m[1])}.upsamplers.0.conv.${m[2]}`);
  m = /^(encoder|decoder)\.mid\.block_([12])\.(.+)$/.exec(key);
  if (m && RESNET_REST.test(m[3] as string)) return plain(`${m[1]}.mid_block.resnets.${Number(m[2]) - 1}.${resnetPart(m[3] as string)}`);
  m = /^(encoder|decoder)\.mid\.attn_1\.(norm|q|k|v|proj_out)\.(weight|bias)$/.exec(key);
  if (m) {
    const part = ATTENTION_PARTS[m[2] as string] as string;
    return { name: `${m[1]}.mid_block.attentions.0.${part}.${m[3]}`, squeeze: m[2] !== 'norm' && m[3] === 'weight' };
  }
  return undefined;
}
