/** Tiny configs for tests: the world's layouts with a few channels, latents 4×4×12 (8×8 images). */
import { TEXT_ENCODER_CONFIG, UNET_CONFIG } from '../model/configs';

/** A 1-layer, width-16 CLIP text encoder over the world vocabulary. */
export const TINY_TEXT_ENCODER_CONFIG: Readonly<Record<string, unknown>> = {
  ...TEXT_ENCODER_CONFIG,
  hidden_size: 16,
  intermediate_size: 32,
  num_hidden_layers: 1,
  num_attention_heads: 2,
};

/** The world's UNet layout at channels (8, 16, 16), GroupNorm 4, context 16, sample size 4. */
export const TINY_UNET_CONFIG: Readonly<Record<string, unknown>> = {
  ...UNET_CONFIG,
  sample_size: 4,
  block_out_channels: [8, 16, 16],
  norm_num_groups: 4,
  cross_attention_dim: 16,
};
