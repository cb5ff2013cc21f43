/**
 * Test-side references written independently of src/: ldm's DDIM loop with `till_T` (what ESD and Adversarial
 * Preservation sample their x_t with) and a host copy of a model's UNet parameters.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { DiffusionModel } from '@erase/core';

/** Host copies of every UNet parameter, by name. */
export async function unetWeights(model: DiffusionModel): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, v] of model.unet.parameters()) out.set(name, Float32Array.from(await v.data()));
  return out;
}

/**
 * ldm's `DDIMSampler.ddim_sampling` with `till_T`, written out: timesteps range(0, T, T/S) + 1,
 * CFG ε_u + g(ε_c − ε_u), x̂0, η = 0 update, `if index + 1 == till_T: break`. The caller owns the result.
 */
export function ldmSampleTill(model: DiffusionModel, start: tf.Tensor4D, cond: tf.Tensor3D, uncond: tf.Tensor3D, steps: number, guidance: number, tillT: number): tf.Tensor4D {
  const alphas = model.scheduler.alphasCumprod;
  const ddim: number[] = [];
  for (let t = 0; t < alphas.length; t += alphas.length / steps) ddim.push(t + 1);
  let img = tf.clone(start); // [B, h, w, C]
  for (let i = 0; i < steps; i++) {
    const index = steps - i - 1;
    const step = ddim[index]!;
    const aT = alphas[step]!;
    const aPrev = index === 0 ? alphas[0]! : alphas[ddim[index - 1]!]!;
    const next = tf.tidy(() => {
      const eu = model.unet.predict(img, step, uncond); // [B, h, w, C]
      const ec = model.unet.predict(img, step, cond); // [B, h, w, C]
      const e = tf.add(eu, tf.mul(tf.sub(ec, eu), guidance)); // [B, h, w, C]
      const x0 = tf.div(tf.sub(img, tf.mul(e, Math.sqrt(1 - aT))), Math.sqrt(aT)); // x̂0 [B, h, w, C]
      return tf.add(tf.mul(x0, Math.sqrt(aPrev)), tf.mul(e, Math.sqrt(1 - aPrev))) as tf.Tensor4D; // x_{t-1} [B, h, w, C]
    });
    img.dispose();
    img = next;
    if (index + 1 === tillT) break;
  }
  return img;
}
