/**
 * Partial DDIM sampling "till t_enc", as ESD (Gandikota et al. 2023, official `train-esd.py::quick_sample_till_t`)
 * and Adversarial Preservation (Bui et al. 2024, the same helper) draw their training latents: start from noise,
 * run deterministic DDIM steps (η = 0) with classifier-free guidance using the model *being trained*, stop early.
 * Written on `scheduler.alphasCumprod` and `NoisePredictor` only (methods may not use @erase/sd's schedulers).
 *
 * Notation (Song et al. 2021, eq. 12; CompVis `ldm/models/diffusion/ddim.py`):
 *   T            `numTrainTimesteps` (1000), ᾱ_t = `alphasCumprod[t]`
 *   S            `steps` (ESD's `ddim_steps`, 50)
 *   τ_i          DDIM timesteps, ascending: τ_i = i·⌊T/S⌋ + 1, i = 0 … S−1 — diffusers' "leading" spacing with
 *                steps_offset 1 (the SD and world DDIM configs), equal to ldm's 'uniform' `make_ddim_timesteps` (+1)
 *                whenever S divides T
 *   ᾱ_prev(i)    ᾱ_{τ_{i−1}} for i ≥ 1, ᾱ_0 for i = 0 (ldm's `alphas_prev`; diffusers' `set_alpha_to_one: false`)
 *   x_T          start noise [B, h, w, C] (`start`)
 *   ε̃            ε_θ'(x, τ_i, ∅) + g·(ε_θ'(x, τ_i, c) − ε_θ'(x, τ_i, ∅)), or ε_θ'(x, τ_i, c) when g = 1 (as ldm)
 *   x̂0           (x − √(1−ᾱ_{τ_i}) ε̃)/√ᾱ_{τ_i};   x ← √ᾱ_prev(i)·x̂0 + √(1−ᾱ_prev(i))·ε̃   (no clipping, as ldm)
 *   t_enc        stop index: the loop visits i = S−1, S−2, … and stops after i = max(t_enc − 1, 0) — ldm's
 *                `if index + 1 == till_T: break` (t_enc = 0 never breaks, so t_enc ∈ {0, 1} both run all S steps)
 *   t (DDPM)     the timestep the training losses evaluate at: t ~ U{round(T·t_enc/S), …, round(T·(t_enc+1)/S) − 1}
 *                (Python's round, half to even), t_enc ~ U{0, …, S−1}
 *   ᾱ at t_enc   `ddim_alphas[t_enc]` = ᾱ_{τ_{t_enc}} (what Adversarial Preservation's x̂0 uses)
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, throwIfAborted, type NoisePredictor, type Rng } from '@erase/core';

/**
 * τ_0 < … < τ_{S−1}: τ_i = i·⌊T/S⌋ + 1 (diffusers' DDIM "leading" spacing, steps_offset 1), ascending.
 * @throws InvalidOptionError (`samplingSteps`) unless S is an integer with 1 ≤ S and τ_{S−1} ≤ T − 1.
 */
export function ddimTimesteps(numTrainTimesteps: number, steps: number): number[] {
  const ratio = Math.floor(numTrainTimesteps / steps); // ⌊T/S⌋
  if (!Number.isSafeInteger(steps) || steps < 1 || ratio < 1 || (steps - 1) * ratio + 1 > numTrainTimesteps - 1) {
    throw new InvalidOptionError({ option: 'samplingSteps', expected: `an integer in [1, ${numTrainTimesteps - 1}] (T = ${numTrainTimesteps})`, received: steps });
  }
  return Array.from({ length: steps }, (_, i) => i * ratio + 1);
}

/** Python's `round` (half to even), as the official code's `round((t_enc / S) * 1000)`. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** One draw of the partial-sampling depth and the training timestep. */
export interface PartialStep {
  /** t_enc ∈ {0, …, S−1}. */
  readonly tEnc: number;
  /** t ∈ [round(T·t_enc/S), round(T·(t_enc+1)/S)), an integer DDPM timestep. */
  readonly timestep: number;
}

/** Draws t_enc ~ U{0..S−1} then t ~ U[round(T·t_enc/S), round(T·(t_enc+1)/S)) from `rng` (two draws). */
export function drawPartialStep(rng: Rng, steps: number, numTrainTimesteps: number): PartialStep {
  const tEnc = rng.int(steps);
  const low = roundHalfEven((tEnc / steps) * numTrainTimesteps);
  const high = roundHalfEven(((tEnc + 1) / steps) * numTrainTimesteps);
  const timestep = Math.min(low + rng.int(Math.max(high - low, 1)), numTrainTimesteps - 1);
  return { tEnc, timestep };
}

/** ᾱ_{τ_{t_enc}}, the official `sampler.ddim_alphas[t_enc]`. */
export function ddimAlphaBar(alphasCumprod: Float32Array, timesteps: readonly number[], tEnc: number): number {
  return alphasCumprod[timesteps[tEnc] as number] as number;
}

/** Inputs of {@link partialDdimSample}. Tensors are not disposed. */
export interface PartialSamplingInputs {
  /** The model being trained (sampling runs outside any gradient tape). */
  readonly unet: NoisePredictor;
  /** ᾱ_t, length T. */
  readonly alphasCumprod: Float32Array;
  /** τ_i ascending (from {@link ddimTimesteps}). */
  readonly timesteps: readonly number[];
  /** x_T, float32 [B, h, w, C]. */
  readonly start: tf.Tensor4D;
  /** E_c, float32 [B, T, D]. */
  readonly context: tf.Tensor3D;
  /** E_∅, float32 [B, T, D]; needed unless `guidanceScale` is 1. */
  readonly unconditional?: tf.Tensor3D;
  /** g (ESD's `start_guidance`, 3). */
  readonly guidanceScale: number;
  /** t_enc: stop after step index max(t_enc − 1, 0). */
  readonly tEnc: number;
  readonly signal?: AbortSignal | undefined;
}

/**
 * x after the DDIM steps i = S−1 … max(t_enc − 1, 0) (S − max(t_enc − 1, 0) UNet calls, the CFG pair batched into
 * one), float32 [B, h, w, C]; the caller owns it, no other tensor is
 * left behind. Yields to the event loop between steps (so an abort can fire).
 * @throws InvalidOptionError when t_enc is outside [0, S) or the unconditional context is missing;
 *   AbortedError on abort.
 */
export async function partialDdimSample(inputs: PartialSamplingInputs): Promise<tf.Tensor4D> {
  const { unet, alphasCumprod, timesteps, guidanceScale, tEnc } = inputs;
  const steps = timesteps.length; // S
  if (!Number.isSafeInteger(tEnc) || tEnc < 0 || tEnc >= steps) {
    throw new InvalidOptionError({ option: 'tEnc', expected: `an integer in [0, ${steps})`, received: tEnc });
  }
  const guided = guidanceScale !== 1;
  if (guided && !inputs.unconditional) throw new InvalidOptionError({ option: 'unconditional', expected: 'the empty-prompt context (guidance ≠ 1)', received: undefined });
  const context = guided
    ? tf.concat([inputs.unconditional as tf.Tensor3D, inputs.context], 0) // [2B, T, D]
    : inputs.context; // [B, T, D]
  let x: tf.Tensor4D = tf.clone(inputs.start); // x_T [B, h, w, C]
  try {
    const stop = Math.max(tEnc - 1, 0);
    for (let i = steps - 1; i >= stop; i--) {
      throwIfAborted(inputs.signal, 'partial DDIM sampling');
      const tau = timesteps[i] as number; // τ_i
      const alpha = alphasCumprod[tau] as number; // ᾱ_{τ_i}
      const alphaPrev = i > 0 ? (alphasCumprod[timesteps[i - 1] as number] as number) : (alphasCumprod[0] as number); // ᾱ_prev(i)
      const next = tf.tidy(() => {
        let epsilon: tf.Tensor4D;
        if (guided) {
          const both = unet.predict(tf.concat([x, x], 0) as tf.Tensor4D, tau, context); // [2B, h, w, C]
          const [unconditional, conditional] = tf.split(both, 2, 0) as [tf.Tensor4D, tf.Tensor4D]; // 2 × [B, h, w, C]
          epsilon = tf.add(unconditional, tf.mul(tf.sub(conditional, unconditional), guidanceScale)); // ε̃ [B, h, w, C]
        } else {
          epsilon = unet.predict(x, tau, context); // ε̃ [B, h, w, C]
        }
        const x0 = tf.div(tf.sub(x, tf.mul(epsilon, Math.sqrt(1 - alpha))), Math.sqrt(alpha)); // x̂0 [B, h, w, C]
        return tf.add(tf.mul(x0, Math.sqrt(alphaPrev)), tf.mul(epsilon, Math.sqrt(1 - alphaPrev))) as tf.Tensor4D; // x_prev [B, h, w, C]
      });
      x.dispose();
      x = next;
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
    }
    return x;
  } catch (error) {
    x.dispose();
    throw error;
  } finally {
    if (guided) context.dispose();
  }
}
