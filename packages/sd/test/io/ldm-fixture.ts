/**
 * The parity fixtures (unet-tiny-sd1 + vae-tiny + clip-text-tiny) as one single-file checkpoint under original LDM
 * names written out by hand below — not with the library's key map. Shared by the single-file and bundle tests.
 */
import { loadComponent, type HostTensor, type TensorToWrite } from '../../src/io/index';
import { fixture } from '../parity';

// ---- LDM names, by hand, for the tiny models (UNet: 2 levels, 2 layers per block; VAE: 2 levels, 1 layer) ----
/** diffusers UNet module prefix → LDM prefix (under model.diffusion_model.). */
const UNET_BLOCKS: readonly [string, string][] = [
  ['conv_in.', 'input_blocks.0.0.'],
  ['time_embedding.linear_1.', 'time_embed.0.'],
  ['time_embedding.linear_2.', 'time_embed.2.'],
  ['conv_norm_out.', 'out.0.'],
  ['conv_out.', 'out.2.'],
  ['down_blocks.0.resnets.0.', 'input_blocks.1.0.'],
  ['down_blocks.0.attentions.0.', 'input_blocks.1.1.'],
  ['down_blocks.0.resnets.1.', 'input_blocks.2.0.'],
  ['down_blocks.0.attentions.1.', 'input_blocks.2.1.'],
  ['down_blocks.0.downsamplers.0.conv.', 'input_blocks.3.0.op.'],
  ['down_blocks.1.resnets.0.', 'input_blocks.4.0.'],
  ['down_blocks.1.resnets.1.', 'input_blocks.5.0.'],
  ['mid_block.resnets.0.', 'middle_block.0.'],
  ['mid_block.attentions.0.', 'middle_block.1.'],
  ['mid_block.resnets.1.', 'middle_block.2.'],
  ['up_blocks.0.resnets.0.', 'output_blocks.0.0.'],
  ['up_blocks.0.resnets.1.', 'output_blocks.1.0.'],
  ['up_blocks.0.resnets.2.', 'output_blocks.2.0.'],
  ['up_blocks.0.upsamplers.0.conv.', 'output_blocks.2.1.conv.'],
  ['up_blocks.1.resnets.0.', 'output_blocks.3.0.'],
  ['up_blocks.1.attentions.0.', 'output_blocks.3.1.'],
  ['up_blocks.1.resnets.1.', 'output_blocks.4.0.'],
  ['up_blocks.1.attentions.1.', 'output_blocks.4.1.'],
  ['up_blocks.1.resnets.2.', 'output_blocks.5.0.'],
  ['up_blocks.1.attentions.2.', 'output_blocks.5.1.'],
];
/** diffusers resnet part → LDM ResBlock part. */
const UNET_RESNET_PARTS: Record<string, string> = {
  norm1: 'in_layers.0',
  conv1: 'in_layers.2',
  time_emb_proj: 'emb_layers.1',
  norm2: 'out_layers.0',
  conv2: 'out_layers.3',
  conv_shortcut: 'skip_connection',
};
/** diffusers VAE prefix → LDM prefix (under first_stage_model.). */
const VAE_BLOCKS: readonly [string, string][] = [
  ['encoder.conv_norm_out.', 'encoder.norm_out.'],
  ['decoder.conv_norm_out.', 'decoder.norm_out.'],
  ['encoder.down_blocks.0.resnets.0.', 'encoder.down.0.block.0.'],
  ['encoder.down_blocks.0.downsamplers.0.conv.', 'encoder.down.0.downsample.conv.'],
  ['encoder.down_blocks.1.resnets.0.', 'encoder.down.1.block.0.'],
  ['encoder.mid_block.resnets.0.', 'encoder.mid.block_1.'],
  ['encoder.mid_block.resnets.1.', 'encoder.mid.block_2.'],
  ['encoder.mid_block.attentions.0.group_norm.', 'encoder.mid.attn_1.norm.'],
  ['encoder.mid_block.attentions.0.to_q.', 'encoder.mid.attn_1.q.'],
  ['encoder.mid_block.attentions.0.to_k.', 'encoder.mid.attn_1.k.'],
  ['encoder.mid_block.attentions.0.to_v.', 'encoder.mid.attn_1.v.'],
  ['encoder.mid_block.attentions.0.to_out.0.', 'encoder.mid.attn_1.proj_out.'],
  ['decoder.mid_block.resnets.0.', 'decoder.mid.block_1.'],
  ['decoder.mid_block.resnets.1.', 'decoder.mid.block_2.'],
  ['decoder.mid_block.attentions.0.group_norm.', 'decoder.mid.attn_1.norm.'],
  ['decoder.mid_block.attentions.0.to_q.', 'decoder.mid.attn_1.q.'],
  ['decoder.mid_block.attentions.0.to_k.', 'decoder.mid.attn_1.k.'],
  ['decoder.mid_block.attentions.0.to_v.', 'decoder.mid.attn_1.v.'],
  ['decoder.mid_block.attentions.0.to_out.0.', 'decoder.mid.attn_1.proj_out.'],
  // the LDM decoder numbers its levels the other way round
  ['decoder.up_blocks.0.resnets.0.', 'decoder.up.1.block.0.'],
  ['decoder.up_blocks.0.resnets.1.', 'decoder.up.1.block.1.'],
  ['decoder.up_blocks.0.upsamplers.0.conv.', 'decoder.up.1.upsample.conv.'],
  ['decoder.up_blocks.1.resnets.0.', 'decoder.up.0.block.0.'],
  ['decoder.up_blocks.1.resnets.1.', 'decoder.up.0.block.1.'],
  ['encoder.conv_in.', 'encoder.conv_in.'],
  ['encoder.conv_out.', 'encoder.conv_out.'],
  ['decoder.conv_in.', 'decoder.conv_in.'],
  ['decoder.conv_out.', 'decoder.conv_out.'],
  ['quant_conv.', 'quant_conv.'],
  ['post_quant_conv.', 'post_quant_conv.'],
];

function byHand(key: string, table: readonly [string, string][]): [string, string] {
  const found = table.filter(([from]) => key.startsWith(from)).sort((a, b) => b[0].length - a[0].length)[0];
  if (!found) throw new Error(`test table has no entry for ${key}`);
  return [found[1], key.slice(found[0].length)];
}

function ldmUnetName(key: string): string {
  const [prefix, rest] = byHand(key, UNET_BLOCKS);
  const isResnet = /resnets\.\d+\.$/.test((UNET_BLOCKS.find(([, to]) => to === prefix) as [string, string])[0]);
  if (!isResnet) return `model.diffusion_model.${prefix}${rest}`;
  const [part, ...tail] = rest.split('.');
  return `model.diffusion_model.${prefix}${UNET_RESNET_PARTS[part as string]}.${tail.join('.')}`;
}

function ldmVaeName(key: string): string {
  const [prefix, rest] = byHand(key, VAE_BLOCKS);
  return `first_stage_model.${prefix}${rest.replace(/^conv_shortcut\./, 'nin_shortcut.')}`;
}

export const unet = loadComponent(fixture('parity/unet-tiny-sd1'));
export const vae = loadComponent(fixture('parity/vae-tiny'));
export const clip = loadComponent(fixture('parity/clip-text-tiny'));

/** The fixtures as one LDM single-file checkpoint (+ the extras real files carry). */
export function buildLdmCheckpoint(): Map<string, HostTensor | TensorToWrite> {
  const out = new Map<string, HostTensor | TensorToWrite>();
  for (const [key, t] of unet.weights) out.set(ldmUnetName(key), t);
  for (const [key, t] of vae.weights) {
    const isAttnLinear = /mid_block\.attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(key);
    out.set(ldmVaeName(key), isAttnLinear ? { ...t, shape: [...t.shape, 1, 1] } : t);
  }
  for (const [key, t] of clip.weights) out.set(`cond_stage_model.transformer.${key}`, t);
  out.set('cond_stage_model.transformer.text_model.embeddings.position_ids', { dtype: 'I64', shape: [1, 77], data: Array.from({ length: 77 }, (_, i) => i) });
  out.set('alphas_cumprod', { dtype: 'F32', shape: [4], data: [0.9, 0.8, 0.7, 0.6] });
  out.set('model_ema.decay', { dtype: 'F32', shape: [], data: [0.9999] });
  return out;
}

