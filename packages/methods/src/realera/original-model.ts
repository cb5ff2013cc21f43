/**
 * ε̂, the original UNet of RealEra eq. 8–9, evaluated on the model being trained without keeping a second copy of
 * it: for one prediction the closed-form projections θ' are swapped back to the original W_org and the LoRA
 * adapter's scale is set to 0; both are restored before returning (also when the prediction throws).
 *
 * Notation: ε(z_t, t, E) = the model with θ' + Δ (trained), ε̂(z_t, t, E) = the model with W_org and no Δ.
 * Only `attn2` projections and LoRA factors differ between the two, so the swap is exact.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CrossAttentionSite, LoraAdapter, NoisePredictor, ProjectionName } from '@erase/core';
import { writeProjections, type ProjectionWeights } from '../shared/site-weights';

/** A view of the original model on top of the trained one. */
export class OriginalModelView {
  private readonly unet: NoisePredictor;
  private readonly sites: readonly CrossAttentionSite[];
  private readonly projections: readonly ProjectionName[];
  private readonly swap: { readonly original: ProjectionWeights; readonly edited: ProjectionWeights } | undefined;
  private readonly adapter: LoraAdapter;

  /**
   * @param swap the original and the edited projections (absent when no closed form was applied). Not owned.
   * @param adapter the LoRA being trained (its scale is zeroed during a reference prediction).
   */
  constructor(
    unet: NoisePredictor,
    sites: readonly CrossAttentionSite[],
    projections: readonly ProjectionName[],
    swap: { readonly original: ProjectionWeights; readonly edited: ProjectionWeights } | undefined,
    adapter: LoraAdapter,
  ) {
    this.unet = unet;
    this.sites = sites;
    this.projections = projections;
    this.swap = swap;
    this.adapter = adapter;
  }

  /**
   * ε̂(z_t, t, E): latents [B, h, w, C], one timestep, context [B, T, D] → [B, h, w, C], outside any gradient tape
   * use. The caller owns the result; inputs are not disposed.
   */
  predict(latents: tf.Tensor4D, timestep: number, context: tf.Tensor3D): tf.Tensor4D {
    const scale = this.adapter.scale;
    this.adapter.scale = 0;
    if (this.swap) writeProjections(this.sites, this.projections, this.swap.original);
    try {
      return tf.tidy(() => this.unet.predict(latents, timestep, context)); // [B, h, w, C]
    } finally {
      if (this.swap) writeProjections(this.sites, this.projections, this.swap.edited);
      this.adapter.scale = scale;
    }
  }
}
