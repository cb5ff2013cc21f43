/**
 * The networks the benchmarks build, as diffusers/transformers `config.json` contents (snake_case, as on disk),
 * and where the repository, its docs fragments and the parity fixtures are.
 *
 * - SD 1.5 (runwayml/stable-diffusion-v1-5): CLIP ViT-L/14 text tower and the 860M-parameter UNet.
 * - The embedded shapes world (`/work/shared/docs/shapes-world.md`, `packages/shapes-world/src/model/configs.ts`):
 *   the same layouts at toy size. Copied here because `@erase/sd` cannot depend on `@erase/shapes-world`; keep the
 *   two in step.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (…/main). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** Where the bench scripts write their markdown fragments (linked from docs/benchmarks.md). */
export const FRAGMENTS_DIR = join(REPO_ROOT, 'docs', 'benchmarks');

/** The PyTorch side-by-side script. */
export const PYTORCH_SCRIPT = join(REPO_ROOT, 'benchmarks', 'pytorch', 'train_step.py');

/** SD 1.5's `text_encoder/config.json` (transformers CLIPTextModel). */
export const SD15_TEXT_ENCODER: Readonly<Record<string, unknown>> = Object.freeze({
  architectures: ['CLIPTextModel'],
  vocab_size: 49408,
  hidden_size: 768,
  intermediate_size: 3072,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  max_position_embeddings: 77,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
  projection_dim: 768,
  bos_token_id: 0,
  eos_token_id: 2,
  pad_token_id: 1,
});

/** SD 1.5's `unet/config.json` (diffusers UNet2DConditionModel). */
export const SD15_UNET: Readonly<Record<string, unknown>> = Object.freeze({
  _class_name: 'UNet2DConditionModel',
  act_fn: 'silu',
  attention_head_dim: 8,
  block_out_channels: [320, 640, 1280, 1280],
  center_input_sample: false,
  cross_attention_dim: 768,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  downsample_padding: 1,
  flip_sin_to_cos: true,
  freq_shift: 0,
  in_channels: 4,
  layers_per_block: 2,
  mid_block_scale_factor: 1,
  norm_eps: 1e-5,
  norm_num_groups: 32,
  out_channels: 4,
  sample_size: 64,
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
});

/** The world's text encoder: CLIPTextModel, width 64, 2 layers, 4 heads, MLP ×4, 16 positions, 704 tokens. */
export const WORLD_TEXT_ENCODER: Readonly<Record<string, unknown>> = Object.freeze({
  architectures: ['CLIPTextModel'],
  vocab_size: 704,
  hidden_size: 64,
  intermediate_size: 256,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  max_position_embeddings: 16,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
  projection_dim: 64,
  bos_token_id: 702,
  eos_token_id: 703,
  pad_token_id: 703,
});

/** The world's UNet: 12 → 12 channels at 12×12, blocks (32, 64, 64), 2 heads, 8 groups, context width 64. */
export const WORLD_UNET: Readonly<Record<string, unknown>> = Object.freeze({
  _class_name: 'UNet2DConditionModel',
  sample_size: 12,
  in_channels: 12,
  out_channels: 12,
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'],
  mid_block_type: 'UNetMidBlock2DCrossAttn',
  up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'],
  block_out_channels: [32, 64, 64],
  layers_per_block: 1,
  downsample_padding: 1,
  norm_num_groups: 8,
  norm_eps: 1e-5,
  cross_attention_dim: 64,
  attention_head_dim: 2,
  flip_sin_to_cos: true,
  freq_shift: 0,
});

/** The parity fixtures folder (`ERASE_FIXTURES`, or `shared/fixtures` beside or inside the repository), if present. */
export function fixturesDir(): string | undefined {
  const candidates = [process.env.ERASE_FIXTURES, join(REPO_ROOT, '../shared/fixtures'), join(REPO_ROOT, 'shared/fixtures')];
  return candidates.find((c): c is string => c !== undefined && existsSync(c));
}

/** The tiny SD 1.x UNet of the parity fixtures (a diffusers `unet` folder), if present. */
export function tinyUNetDir(): string | undefined {
  const root = fixturesDir();
  const dir = root === undefined ? undefined : join(root, 'parity', 'unet-tiny-sd1');
  return dir !== undefined && existsSync(join(dir, 'config.json')) ? dir : undefined;
}
