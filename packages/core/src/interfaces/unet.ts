import type * as tf from '@tensorflow/tfjs-core';

/** Which projection of a cross-attention module: its key or its value map. */
export type ProjectionName = 'to_k' | 'to_v';

/**
 * One cross-attention module (`attn2`) of a noise predictor — the place a closed-form edit changes.
 *
 * `W` is stored `[out, in]` exactly as in diffusers (`out` = inner dim, `in` = context dim D),
 * so `W c` maps a text token vector `c` ∈ ℝ^D to a key/value.
 */
export interface CrossAttentionSite {
  /** The diffusers module path, e.g. `down_blocks.0.attentions.0.transformer_blocks.0.attn2`. */
  readonly path: string;
  /** Number of attention heads. */
  readonly heads: number;
  /** `out` of `to_k`/`to_v`. */
  readonly innerDim: number;
  /** `in` of `to_k`/`to_v` (the text encoder's D). */
  readonly contextDim: number;
  /** A copy of the projection weight, float32 [out, in]. The caller owns it. */
  readProjection(name: ProjectionName): tf.Tensor2D;
  /** Replaces the projection weight with a copy of `weight` (float32 [out, in]); `weight` is not disposed. */
  writeProjection(name: ProjectionName, weight: tf.Tensor2D): void;
}

/** Which linear layers get LoRA factors and how they start. */
export interface LoraConfig {
  /** r. Default 1 (MACE/RealEra) — implementations document theirs. */
  readonly rank: number;
  /** α; the update is scaled by α / r. Default: equal to `rank` (scale 1). */
  readonly alpha?: number;
  /**
   * Module-name suffixes to adapt, matched against diffusers paths, e.g. `['attn2.to_k', 'attn2.to_v']`
   * or `['to_q', 'to_k', 'to_v', 'to_out.0']`.
   */
  readonly targetModules: readonly string[];
  /** Seed of the down-projection init (A ~ N(0, 1/in) by default, B = 0). */
  readonly seed?: number;
}

/** LoRA factors attached to a noise predictor. `W' = W + scale · B A`. */
export interface LoraAdapter {
  readonly config: LoraConfig;
  /** Trainable variables: for each adapted module path, its `down` (A, [r, in]) and `up` (B, [out, r]). */
  readonly layers: ReadonlyMap<string, { readonly down: tf.Variable; readonly up: tf.Variable }>;
  /** All trainable variables, for an optimizer's var list. */
  readonly variables: readonly tf.Variable[];
  /** Multiplier applied on top of α / r (diffusers' `cross_attention_kwargs.scale`); default 1. */
  scale: number;
  /** Adds `scale · (α/r) · B A` into the base weights and removes the adapter. */
  fuse(): void;
  /** Removes the adapter and disposes its variables, leaving the base weights as they were. */
  detach(): void;
}

/**
 * A noise predictor ε_θ(z_t, t, E) — the UNet. Implemented by `@erase/sd`'s UNet2DConditionModel.
 *
 * Layout: latents are channels-last, [B, H, W, C] (diffusers' [B, C, H, W] transposed once at the I/O boundary).
 */
export interface NoisePredictor {
  /** C of the latents. */
  readonly inChannels: number;
  /** H = W of the latents the model was trained at. */
  readonly sampleSize: number;
  /** D of the context it attends to. */
  readonly contextDim: number;

  /**
   * ε prediction: `latents` float32 [B, H, W, C], `timesteps` (one number for all, or float32 [B]),
   * `context` float32 [B, T, D] → float32 [B, H, W, C]. The caller owns the result; inputs are not disposed.
   */
  predict(latents: tf.Tensor4D, timesteps: number | tf.Tensor1D, context: tf.Tensor3D): tf.Tensor4D;

  /** Every cross-attention module, in diffusers' module order. */
  crossAttentionSites(): readonly CrossAttentionSite[];

  /** Attaches trainable LoRA factors; at most one adapter at a time. */
  attachLora(config: LoraConfig): LoraAdapter;

  /**
   * The model's weights as tfjs variables, keyed by diffusers state-dict name. Owned by the model.
   * Layouts are tfjs's (conv kernels [kh, kw, in, out], linear [in, out]); readers that need diffusers
   * layouts use the I/O layer. `trainable` is false until a method switches it on.
   */
  parameters(): ReadonlyMap<string, tf.Variable>;
}
