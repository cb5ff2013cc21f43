/**
 * Adversarial Preservation's model update (methods.md §4; official `train_adversarial_gumbel.py` even iterations,
 * `train_adversarial_pgd.py` before `adversarial_prompt`): one Adam step on θ' for
 *
 *   L = L_erase(z, c_e) + w · L_preserve(z_a, c_a)      (core's `adversarialEraseLoss` / `adversarialPreserveLoss`)
 *
 * Notation:
 *   z     x_t sampled from x_T with the erased prompt c_e (partial DDIM till t_enc, the trained model, g = 3)
 *   z_a   likewise with the adversarial concept c_a (Gumbel; the same x_T); PGD reuses z (z_a = z)
 *   t     the DDPM timestep the UNet sees; ᾱ = ᾱ_{τ_{t_enc}} (`sampler.ddim_alphas[t_enc]`) is what x̂0 uses
 *   ε_θ' / ε_θ   trained / frozen predictions (fine-tuning.ts swaps θ in for the frozen ones)
 *   w     `preserveWeight` (1 Gumbel, 0.01 PGD)
 * Also the per-iteration draw (t_enc, t, x_T seed) and the partial sampling every step of this method uses.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, adversarialEraseLoss, adversarialPreserveLoss, type DiffusionModel } from '@erase/core';
import type { FineTuningSession } from '../esd/fine-tuning';
import { ddimAlphaBar, drawPartialStep, partialDdimSample } from '../shared/partial-sampling';
import type { ResolvedAdversarialPreservationOptions } from './options';

/** What every iteration record of either search variant holds about its model update. */
export interface ModelUpdateRecord {
  readonly concept: string;
  /** Model update: t_enc, t, x_T seed. */
  readonly tEnc: number;
  readonly timestep: number;
  readonly noiseSeed: number;
  readonly loss: number;
  readonly eraseLoss: number;
  readonly preserveLoss: number;
}

/** The record fields of one model update (shared by the Gumbel and PGD stages). */
export function modelUpdateRecord(concept: string, draw: StepDraw, losses: ModelUpdateLosses): ModelUpdateRecord {
  return { concept, tEnc: draw.tEnc, timestep: draw.timestep, noiseSeed: draw.noiseSeed, ...losses };
}

/** What every step of the method needs. */
export interface TrainingFrame {
  readonly model: DiffusionModel;
  readonly session: FineTuningSession;
  readonly options: ResolvedAdversarialPreservationOptions;
  /** τ_i ascending. */
  readonly timesteps: readonly number[];
  /** E_∅ [1, T, D]. */
  readonly unconditional: tf.Tensor3D;
  readonly rng: Rng;
  readonly signal: AbortSignal | undefined;
}

/** One draw of t_enc, t and the x_T seed, with ᾱ_{τ_{t_enc}}. */
export interface StepDraw {
  readonly tEnc: number;
  readonly timestep: number;
  readonly noiseSeed: number;
  readonly alphaBar: number;
}

/** Draws t_enc, t (two draws) and the x_T seed (one draw) from the frame's stream. */
export function drawStep(frame: TrainingFrame): StepDraw {
  const alphasCumprod = frame.model.scheduler.alphasCumprod;
  const { tEnc, timestep } = drawPartialStep(frame.rng, frame.options.samplingSteps, alphasCumprod.length);
  const noiseSeed = frame.rng.nextUint32();
  return { tEnc, timestep, noiseSeed, alphaBar: ddimAlphaBar(alphasCumprod, frame.timesteps, tEnc) };
}

/**
 * Partial DDIM sampling of x_T = `new Rng(noiseSeed)` N(0, I) [1, h, w, C] with the trained model and `context`
 * ([1, T, D]) till t_enc. The caller owns the result.
 */
export async function sampleLatents(frame: TrainingFrame, draw: StepDraw, context: tf.Tensor3D): Promise<tf.Tensor4D> {
  const [h, w, c] = frame.model.latentShape;
  const start = new Rng(draw.noiseSeed).normalTensor([1, h, w, c]) as tf.Tensor4D; // x_T [1, h, w, C]
  try {
    return await partialDdimSample({
      unet: frame.model.unet,
      alphasCumprod: frame.model.scheduler.alphasCumprod,
      timesteps: frame.timesteps,
      start,
      context,
      unconditional: frame.unconditional,
      guidanceScale: frame.options.guidanceScale,
      tEnc: draw.tEnc,
      signal: frame.signal,
    }); // [1, h, w, C]
  } finally {
    start.dispose();
  }
}

/** Inputs of one model update. Tensors are not disposed. */
export interface ModelUpdateInputs {
  readonly draw: StepDraw;
  /** z [1, h, w, C]. */
  readonly latents: tf.Tensor4D;
  /** z_a [1, h, w, C] (z itself for PGD). */
  readonly adversarialLatents: tf.Tensor4D;
  /** E_{c_e} [1, T, D]. */
  readonly erased: tf.Tensor3D;
  /** c_a [1, T, D]. */
  readonly adversarial: tf.Tensor3D;
}

/** The model update's loss values (before the update). */
export interface ModelUpdateLosses {
  /** L = L_erase + w·L_preserve. */
  readonly loss: number;
  readonly eraseLoss: number;
  readonly preserveLoss: number;
}

/** One Adam step on θ' for L (see the notation block). No tensor is left behind. */
export function updateModel(frame: TrainingFrame, inputs: ModelUpdateInputs): ModelUpdateLosses {
  const unet = frame.model.unet;
  const { timestep, alphaBar } = inputs.draw;
  const { latents, adversarialLatents, erased, adversarial } = inputs;
  const frozen = frame.session.frozen(() => [
    unet.predict(latents, timestep, frame.unconditional), // ε_θ(z, ∅) [1, h, w, C]
    unet.predict(latents, timestep, erased), // ε_θ(z, c_e) [1, h, w, C]
    unet.predict(adversarialLatents, timestep, adversarial), // ε_θ(z_a, c_a) [1, h, w, C]
  ]) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  const parts: tf.Scalar[] = [];
  try {
    const loss = frame.session.step(() => {
      const erase = adversarialEraseLoss(
        { latents, alphaBar, trainedConditional: unet.predict(latents, timestep, erased), frozenUnconditional: frozen[0], frozenConditional: frozen[1] }, // ε_θ'(z, c_e)
        { negativeGuidance: frame.options.negativeGuidance },
      ); // []
      const preserve = adversarialPreserveLoss({
        latents: adversarialLatents,
        alphaBar,
        trainedAdversarial: unet.predict(adversarialLatents, timestep, adversarial), // ε_θ'(z_a, c_a) [1, h, w, C]
        frozenAdversarial: frozen[2],
      }); // []
      parts.push(tf.keep(tf.clone(erase)), tf.keep(tf.clone(preserve)));
      return tf.add(erase, tf.mul(preserve, frame.options.preserveWeight)) as tf.Scalar; // []
    });
    return { loss, eraseLoss: parts[0]?.dataSync()[0] as number, preserveLoss: parts[1]?.dataSync()[0] as number };
  } finally {
    tf.dispose(frozen);
    tf.dispose(parts);
  }
}
