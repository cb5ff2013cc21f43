/**
 * Which UNet parameters ESD trains (Gandikota et al. 2023 §4; official `train-esd.py`, `train_method`), by
 * diffusers state-dict name. The official filters run on CompVis names; their diffusers equivalents:
 *   ESD-x (`xattn`):   'attn2' in name                       → every `…attn2.to_q/to_k/to_v/to_out.0.*`
 *   ESD-u (`noxattn`): not (name.startswith('out.') or 'attn2' in name or 'time_embed' in name)
 *                      CompVis `out.0`/`out.2` = diffusers `conv_norm_out` / `conv_out`; CompVis `time_embed.*` =
 *                      diffusers `time_embedding.*` (the resnets' `time_emb_proj` does not match, as CompVis'
 *                      `emb_layers` does not), so ESD-u trains everything else, `time_emb_proj` included.
 * Adversarial Preservation uses the same two sets (`trainable: 'x' | 'u'`).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { UnsupportedError } from '@erase/core';

/** ESD-x (cross-attention) or ESD-u (everything except cross-attention, time embedding and output layers). */
export type EsdVariant = 'x' | 'u';

/** True for a cross-attention (`attn2`) parameter. */
export function isCrossAttentionParameter(name: string): boolean {
  return name.includes('attn2');
}

/** True for a parameter ESD-u leaves alone besides attn2: the time embedding and the output layers. */
function isExcludedFromUnconditional(name: string): boolean {
  return name.includes('time_embed') || name.startsWith('conv_out.') || name.startsWith('conv_norm_out.') || name.startsWith('out.');
}

/**
 * The names of the parameters `variant` trains, in the model's order.
 * @throws UnsupportedError when the model has none (e.g. ESD-u on a model that only exposes attn2 weights).
 */
export function esdParameterNames(parameters: ReadonlyMap<string, tf.Variable>, variant: EsdVariant, source = 'the model'): string[] {
  const names = [...parameters.keys()].filter((name) =>
    variant === 'x' ? isCrossAttentionParameter(name) : !isCrossAttentionParameter(name) && !isExcludedFromUnconditional(name),
  );
  if (names.length === 0) {
    const what = variant === 'x' ? 'cross-attention (attn2) parameters' : 'parameters outside attn2, the time embedding and the output layers';
    throw new UnsupportedError(`${source}: the noise predictor exposes no ${what} to train (ESD-${variant}).`);
  }
  return names;
}
