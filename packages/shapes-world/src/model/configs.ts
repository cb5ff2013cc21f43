/**
 * The embedded ShapesWorld model, as data: the diffusers/transformers `config.json` contents (snake_case, as on
 * disk) of its text encoder, UNet, schedulers and pipeline index — the measured recipe of
 * `docs/shapes-world.md`.
 *
 * Notation: D = 64 text width (= the UNet's cross-attention width), T = 16 tokens, V = 704 tokens (the world
 * tokenizer's vocabulary with its specials: bos 702, eos = pad 703); latents z ∈ ℝ^{12×12×12} (pixel-unshuffled
 * 24×24×3 images). UNet blocks (32, 64, 64) at 12², 6², 3²; cross-attention at 6², 3² and the mid block → 7
 * transformer blocks, 14 `attn2.to_k`/`to_v` of shape [C, 64]. `attention_head_dim: 2` means **2 heads**
 * (diffusers' naming quirk, see `@erase/sd` unet/config.ts).
 */

/** The world tokenizer's size, including its specials (tokenizer/vocab.json). */
export const WORLD_VOCAB_SIZE = 704;
/** `<|startoftext|>` id. */
export const WORLD_BOS_TOKEN_ID = 702;
/** `<|endoftext|>` id (also the pad token). */
export const WORLD_EOS_TOKEN_ID = 703;
/** Context length T of the world tokenizer and text encoder. */
export const WORLD_CONTEXT_LENGTH = 16;
/** Latent shape [h, w, C] the UNet generates. */
export const WORLD_LATENT_SHAPE: readonly [number, number, number] = [12, 12, 12];
/**
 * Default classifier-free guidance scale, written to `model_index.json` (`guidance_scale`) and read back by
 * `loadShapesWorld`. Chosen on held-out seeds 1000–1031 with the 8,000-step weights (oracle top-1 on the ten class
 * prompts, DDIM 20 steps): 2 → 96.9%, 3 → 96.6%, 4 → 95.6%, 5 → 92.2%, 7.5 → 70.6%, 10 → 41.3% (a stronger push
 * leaves this small UNet's x̂₀ blank or smeared). 3 is the middle of the flat range; the recipe's 5 was chosen for
 * the earlier, jointly trained world.
 */
export const WORLD_GUIDANCE_SCALE = 3;
/** Denoising steps used for sampling by default. */
export const WORLD_SAMPLING_STEPS = 20;

/** `text_encoder/config.json`: transformers CLIPTextModel, width 64, 2 layers, 4 heads, MLP ×4, quick_gelu. */
export const TEXT_ENCODER_CONFIG: Readonly<Record<string, unknown>> = Object.freeze({
  _name_or_path: 'embedded:shapes-world',
  architectures: ['CLIPTextModel'],
  model_type: 'clip_text_model',
  vocab_size: WORLD_VOCAB_SIZE,
  hidden_size: 64,
  intermediate_size: 256,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  max_position_embeddings: WORLD_CONTEXT_LENGTH,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
  projection_dim: 64,
  attention_dropout: 0,
  dropout: 0,
  initializer_factor: 1,
  initializer_range: 0.02,
  bos_token_id: WORLD_BOS_TOKEN_ID,
  eos_token_id: WORLD_EOS_TOKEN_ID,
  pad_token_id: WORLD_EOS_TOKEN_ID,
  torch_dtype: 'float32',
  transformers_version: '4.33.0',
});

/** `unet/config.json`: diffusers UNet2DConditionModel, 12 → 12 channels at 12×12. */
export const UNET_CONFIG: Readonly<Record<string, unknown>> = Object.freeze({
  _class_name: 'UNet2DConditionModel',
  _diffusers_version: '0.25.1',
  sample_size: 12,
  in_channels: 12,
  out_channels: 12,
  center_input_sample: false,
  flip_sin_to_cos: true,
  freq_shift: 0,
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'],
  mid_block_type: 'UNetMidBlock2DCrossAttn',
  up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'],
  only_cross_attention: false,
  block_out_channels: [32, 64, 64],
  layers_per_block: 1,
  downsample_padding: 1,
  mid_block_scale_factor: 1,
  dropout: 0,
  act_fn: 'silu',
  norm_num_groups: 8,
  norm_eps: 1e-5,
  cross_attention_dim: 64,
  transformer_layers_per_block: 1,
  attention_head_dim: 2,
  num_attention_heads: null,
  dual_cross_attention: false,
  use_linear_projection: false,
  class_embed_type: null,
  num_class_embeds: null,
  upcast_attention: false,
  resnet_time_scale_shift: 'default',
  time_embedding_type: 'positional',
  time_embedding_dim: null,
  conv_in_kernel: 3,
  conv_out_kernel: 3,
});

/** The noise schedule shared by training and sampling: 1000 steps, scaled_linear β 0.00085–0.012, ε-prediction. */
const NOISE_SCHEDULE = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  trained_betas: null,
  prediction_type: 'epsilon',
} as const;

/** The DDPM scheduler used for training (forward noising only). */
export const TRAINING_SCHEDULER_CONFIG: Readonly<Record<string, unknown>> = Object.freeze({
  _class_name: 'DDPMScheduler',
  _diffusers_version: '0.25.1',
  ...NOISE_SCHEDULE,
  variance_type: 'fixed_small',
  clip_sample: true,
  clip_sample_range: 1,
  timestep_spacing: 'leading',
  steps_offset: 1,
});

/** `scheduler/scheduler_config.json`: DDIM, η = 0, 'leading' spacing with offset 1, x̂₀ clipped to [-1, 1]. */
export const SAMPLING_SCHEDULER_CONFIG: Readonly<Record<string, unknown>> = Object.freeze({
  _class_name: 'DDIMScheduler',
  _diffusers_version: '0.25.1',
  ...NOISE_SCHEDULE,
  clip_sample: true,
  clip_sample_range: 1,
  set_alpha_to_one: false,
  steps_offset: 1,
  timestep_spacing: 'leading',
  thresholding: false,
  rescale_betas_zero_snr: false,
});

/** `model_index.json` of the shipped folder (a diffusers pipeline layout without a VAE: the codec is exact). */
export const MODEL_INDEX: Readonly<Record<string, unknown>> = Object.freeze({
  _class_name: 'ShapesWorldPipeline',
  _diffusers_version: '0.25.1',
  text_encoder: ['transformers', 'CLIPTextModel'],
  tokenizer: ['transformers', 'CLIPTokenizer'],
  unet: ['diffusers', 'UNet2DConditionModel'],
  scheduler: ['diffusers', 'DDIMScheduler'],
  vae: [null, null],
  safety_checker: [null, null],
  feature_extractor: [null, null],
  requires_safety_checker: false,
  codec: 'pixel-unshuffle-2',
  latent_shape: [...WORLD_LATENT_SHAPE],
  guidance_scale: WORLD_GUIDANCE_SCALE,
  num_inference_steps: WORLD_SAMPLING_STEPS,
});
