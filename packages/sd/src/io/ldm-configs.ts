/**
 * Infers diffusers/transformers configs for the components of a single-file SD checkpoint from its weights' shapes
 * (diffusers names, PyTorch layouts). What the weights cannot tell (sample_size, norm groups, upcast_attention,
 * prediction type) takes the SD 1.x / 2.x defaults; pass overrides to change them.
 *
 * Heads: SD 1.x uses 8 heads everywhere (diffusers writes `attention_head_dim: 8`, which it reads as the head
 * count); SD 2.x uses head dim 64, so heads = channels / 64 per level (`attention_head_dim: [5, 10, 20, 20]`).
 * CLIP text: heads = hidden_size / 64 (CLIP ViT-L/14 and OpenCLIP ViT-H/14 both use head dim 64).
 */
import { FileFormatError, UnsupportedError } from '@erase/core';
import type { Shaped } from './weight-keys';
import type { LdmUnetStructure } from './ldm-unet-keys';

/** Which Stable Diffusion family a checkpoint belongs to. */
export type SdVersion = 'sd1' | 'sd2';

type Config = Record<string, unknown>;

function shapeOf(file: string, weights: ReadonlyMap<string, Shaped>, key: string, rank?: number): readonly number[] {
  const found = weights.get(key);
  if (!found || (rank !== undefined && found.shape.length !== rank)) {
    throw new FileFormatError({
      file,
      expected: `a tensor ${key}${rank !== undefined ? ` of rank ${rank}` : ''} (after mapping to diffusers names)`,
      problem: found ? `it has shape [${found.shape.join(', ')}]` : 'it is missing',
    });
  }
  return found.shape;
}

function dim(shape: readonly number[], axis: number): number {
  return shape[axis] as number;
}

/**
 * UNet2DConditionModel config from UNet weights in diffusers names.
 * @throws FileFormatError when a tensor needed to read a size is missing; UnsupportedError when SD 2.x head counts
 *   cannot be derived (channels not a multiple of 64) and `overrides.attention_head_dim` is not given
 */
export function inferUnetConfig(
  file: string,
  weights: ReadonlyMap<string, Shaped>,
  structure: LdmUnetStructure,
  version: SdVersion,
  overrides: Readonly<Config> = {},
): Config {
  const { levels, layersPerBlock } = structure;
  const channels: number[] = [];
  const attention: boolean[] = [];
  const transformerDepth: number[] = [];
  for (let b = 0; b < levels; b++) {
    channels.push(dim(shapeOf(file, weights, `down_blocks.${b}.resnets.0.conv2.weight`, 4), 0));
    const hasAttention = weights.has(`down_blocks.${b}.attentions.0.proj_in.weight`);
    attention.push(hasAttention);
    let depth = 0;
    while (weights.has(`down_blocks.${b}.attentions.0.transformer_blocks.${depth}.norm1.weight`)) depth++;
    transformerDepth.push(hasAttention ? depth : 1);
  }
  const upAttention: boolean[] = [];
  for (let b = 0; b < levels; b++) upAttention.push(weights.has(`up_blocks.${b}.attentions.0.proj_in.weight`));
  const attentionKey = [...weights.keys()].find((k) => /\.attn2\.to_k\.weight$/.test(k));
  const projIn = [...weights.keys()].find((k) => /attentions\.0\.proj_in\.weight$/.test(k));
  const convIn = shapeOf(file, weights, 'conv_in.weight', 4);
  const convOut = shapeOf(file, weights, 'conv_out.weight', 4);
  const timeLinear = shapeOf(file, weights, 'time_embedding.linear_1.weight', 2);
  const c0 = channels[0] as number;

  let attentionHeadDim: unknown = overrides.attention_head_dim;
  if (attentionHeadDim === undefined) {
    if (version === 'sd1') attentionHeadDim = 8;
    else {
      if (channels.some((c) => c % 64 !== 0)) {
        throw new UnsupportedError(
          `${file}: SD 2.x UNets use head dim 64, but the block channels [${channels.join(', ')}] are not multiples of 64; ` +
            'pass the head counts as unetConfig.attention_head_dim.',
        );
      }
      attentionHeadDim = channels.map((c) => c / 64);
    }
  }
  const sameDepth = transformerDepth.every((d) => d === transformerDepth[0]);
  const config: Config = {
    _class_name: 'UNet2DConditionModel',
    _diffusers_version: '0.25.1',
    act_fn: 'silu',
    addition_embed_type: null,
    addition_embed_type_num_heads: 64,
    addition_time_embed_dim: null,
    attention_head_dim: attentionHeadDim,
    attention_type: 'default',
    block_out_channels: channels,
    center_input_sample: false,
    class_embed_type: null,
    class_embeddings_concat: false,
    conv_in_kernel: dim(convIn, 2),
    conv_out_kernel: dim(convOut, 2),
    cross_attention_dim: attentionKey ? dim(shapeOf(file, weights, attentionKey, 2), 1) : 1280,
    cross_attention_norm: null,
    down_block_types: attention.map((a) => (a ? 'CrossAttnDownBlock2D' : 'DownBlock2D')),
    downsample_padding: 1,
    dropout: 0.0,
    dual_cross_attention: false,
    encoder_hid_dim: null,
    encoder_hid_dim_type: null,
    flip_sin_to_cos: true,
    freq_shift: 0,
    in_channels: dim(convIn, 1),
    layers_per_block: layersPerBlock,
    mid_block_only_cross_attention: null,
    mid_block_scale_factor: 1,
    mid_block_type: structure.midHasAttention ? 'UNetMidBlock2DCrossAttn' : 'UNetMidBlock2D',
    norm_eps: 1e-5,
    norm_num_groups: 32,
    num_attention_heads: null,
    num_class_embeds: null,
    only_cross_attention: false,
    out_channels: dim(convOut, 0),
    projection_class_embeddings_input_dim: null,
    resnet_out_scale_factor: 1.0,
    resnet_skip_time_act: false,
    resnet_time_scale_shift: 'default',
    reverse_transformer_layers_per_block: null,
    sample_size: version === 'sd1' ? 64 : 96,
    time_cond_proj_dim: null,
    time_embedding_act_fn: null,
    time_embedding_dim: dim(timeLinear, 0) === 4 * c0 ? null : dim(timeLinear, 0),
    time_embedding_type: 'positional',
    timestep_post_act: null,
    transformer_layers_per_block: sameDepth ? transformerDepth[0] : transformerDepth,
    up_block_types: upAttention.map((a) => (a ? 'CrossAttnUpBlock2D' : 'UpBlock2D')),
    upcast_attention: false,
    use_linear_projection: projIn ? shapeOf(file, weights, projIn).length === 2 : false,
  };
  return { ...config, ...overrides };
}

/** AutoencoderKL config from VAE weights in diffusers names. @throws FileFormatError when a needed tensor is missing */
export function inferVaeConfig(file: string, weights: ReadonlyMap<string, Shaped>, version: SdVersion, overrides: Readonly<Config> = {}): Config {
  const channels: number[] = [];
  while (weights.has(`encoder.down_blocks.${channels.length}.resnets.0.conv2.weight`)) {
    channels.push(dim(shapeOf(file, weights, `encoder.down_blocks.${channels.length}.resnets.0.conv2.weight`, 4), 0));
  }
  let layersPerBlock = 0;
  while (weights.has(`encoder.down_blocks.0.resnets.${layersPerBlock}.conv1.weight`)) layersPerBlock++;
  if (channels.length === 0 || layersPerBlock === 0) {
    throw new FileFormatError({ file, expected: 'VAE encoder blocks (first_stage_model.encoder.down.N.block.M)', problem: 'none were found' });
  }
  const config: Config = {
    _class_name: 'AutoencoderKL',
    _diffusers_version: '0.25.1',
    act_fn: 'silu',
    block_out_channels: channels,
    down_block_types: channels.map(() => 'DownEncoderBlock2D'),
    force_upcast: true,
    in_channels: dim(shapeOf(file, weights, 'encoder.conv_in.weight', 4), 1),
    latent_channels: dim(shapeOf(file, weights, 'decoder.conv_in.weight', 4), 1),
    layers_per_block: layersPerBlock,
    norm_num_groups: 32,
    out_channels: dim(shapeOf(file, weights, 'decoder.conv_out.weight', 4), 0),
    sample_size: version === 'sd1' ? 512 : 768,
    scaling_factor: 0.18215,
    up_block_types: channels.map(() => 'UpDecoderBlock2D'),
  };
  return { ...config, ...overrides };
}

/**
 * CLIPTextConfig from text encoder weights in transformers names.
 * @throws FileFormatError when a needed tensor is missing; UnsupportedError when hidden_size is not a multiple of 64
 *   and `overrides.num_attention_heads` is not given
 */
export function inferClipTextConfig(file: string, weights: ReadonlyMap<string, Shaped>, version: SdVersion, overrides: Readonly<Config> = {}): Config {
  const token = shapeOf(file, weights, 'text_model.embeddings.token_embedding.weight', 2);
  const position = shapeOf(file, weights, 'text_model.embeddings.position_embedding.weight', 2);
  const fc1 = shapeOf(file, weights, 'text_model.encoder.layers.0.mlp.fc1.weight', 2);
  let layers = 0;
  while (weights.has(`text_model.encoder.layers.${layers}.layer_norm1.weight`)) layers++;
  const hidden = dim(token, 1);
  let heads = overrides.num_attention_heads;
  if (heads === undefined) {
    if (hidden % 64 !== 0) {
      throw new UnsupportedError(
        `${file}: CLIP text encoders use head dim 64, but hidden_size ${hidden} is not a multiple of 64; pass textEncoderConfig.num_attention_heads.`,
      );
    }
    heads = hidden / 64;
  }
  const projection = weights.get('text_projection.weight');
  const config: Config = {
    architectures: [projection ? 'CLIPTextModelWithProjection' : 'CLIPTextModel'],
    attention_dropout: 0.0,
    bos_token_id: 0,
    dropout: 0.0,
    eos_token_id: 2,
    hidden_act: version === 'sd1' ? 'quick_gelu' : 'gelu',
    hidden_size: hidden,
    initializer_factor: 1.0,
    initializer_range: 0.02,
    intermediate_size: dim(fc1, 0),
    layer_norm_eps: 1e-5,
    max_position_embeddings: dim(position, 0),
    model_type: 'clip_text_model',
    num_attention_heads: heads,
    num_hidden_layers: layers,
    pad_token_id: 1,
    projection_dim: projection ? dim(projection.shape, 0) : version === 'sd1' ? hidden : 512,
    torch_dtype: 'float32',
    transformers_version: '4.33.0.dev0',
    vocab_size: dim(token, 0),
  };
  return { ...config, ...overrides };
}
