/**
 * ESD — Erased Stable Diffusion (Gandikota et al., "Erasing Concepts from Diffusion Models", ICCV 2023, eq. 7;
 * methods.md §5; official `train-scripts/train-esd.py`) on any `DiffusionModel`: fine-tune the UNet so that its
 * prediction for the concept follows the original model's guidance *away* from the concept.
 *
 * Notation (one iteration; the code's names in backticks):
 *   c, ∅          E_c / E_∅, encoder outputs of the concept prompt and of ''                   `conditional`, `unconditional`
 *   θ', θ         trained / original (frozen) parameters (fine-tuning.ts)
 *   t_enc, t      t_enc ~ U{0..S−1}, t ~ U[round(T·t_enc/S), round(T·(t_enc+1)/S))            partial-sampling.ts
 *   x_T           N(0, I) [1, h, w, C] from a per-iteration seed                                 `noiseSeed`
 *   x_t           partial DDIM sampling of x_T till t_enc with ε_θ' (g = 3, prompt c)            `latents`
 *   target        ε_θ(x_t, ∅, t) − η (ε_θ(x_t, c, t) − ε_θ(x_t, ∅, t))                           core's `esdTarget`
 *   L             mean((ε_θ'(x_t, c, t) − sg[target])²)                                          core's `esdLoss`
 * One Adam step on θ' per iteration; concept s mod K at iteration s. The model is changed in place; on error or
 * abort θ is written back.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, ensureGradients, esdLoss, reportProgress, throwIfAborted, type DiffusionModel } from '@erase/core';
import type { ErasureResultBase } from '../shared/erasure-result';
import { ddimTimesteps, drawPartialStep, partialDdimSample } from '../shared/partial-sampling';
import { contextOf, disposeContexts, encodeContexts } from './contexts';
import { startFineTuning } from './fine-tuning';
import { resolveEsdOptions, type EsdOptions, type ResolvedEsdOptions } from './options';

/** What one iteration drew. */
export interface EsdStepRecord {
  /** The concept prompt of the iteration. */
  readonly concept: string;
  /** t_enc ∈ [0, S). */
  readonly tEnc: number;
  /** t, the DDPM timestep of the loss. */
  readonly timestep: number;
  /** Seed of x_T: `new Rng(noiseSeed).normalTensor([1, h, w, C])`. */
  readonly noiseSeed: number;
}

/** Statistics of an ESD run. */
export interface EsdStatistics {
  /** L of every iteration (before its update). */
  readonly losses: readonly number[];
  readonly steps: readonly EsdStepRecord[];
  /** Scalar weights trained (Σ sizes of `changedParameters`). */
  readonly trainedWeights: number;
  /** Wall-clock seconds of the run. */
  readonly seconds: number;
}

/** Result of `esd()`. Holds no tensors (the trained weights are in the model). */
export interface EsdResult extends ErasureResultBase {
  readonly method: 'esd';
  readonly options: ResolvedEsdOptions;
  readonly statistics: EsdStatistics;
  dispose(): void;
}

/**
 * Erases `options.concepts` from `model` with ESD-x or ESD-u (`options.variant`), in place. Progress stage
 * `esd.train` (one event per iteration, metrics `loss`, `tEnc`, `timestep`).
 * @throws InvalidOptionError for bad options (`samplingSteps` also against the scheduler's T); UnsupportedError when
 *   the variant selects no parameter; AbortedError on abort (then the original weights are back in the model).
 */
export async function esd(model: DiffusionModel, options: EsdOptions): Promise<EsdResult> {
  const resolved = resolveEsdOptions(options);
  const alphasCumprod = model.scheduler.alphasCumprod; // ᾱ_t, length T
  const numTrainTimesteps = alphasCumprod.length; // T
  const timesteps = ddimTimesteps(numTrainTimesteps, resolved.samplingSteps); // τ_i ascending
  throwIfAborted(options.signal, 'esd()');
  await ensureGradients();
  const started = performance.now();
  const [h, w, c] = model.latentShape;
  const rng = new Rng(resolved.seed);
  const unet = model.unet;
  const session = startFineTuning(model, resolved.variant, resolved.learningRate);
  const losses: number[] = [];
  const steps: EsdStepRecord[] = [];
  let contexts: ReturnType<typeof encodeContexts> | undefined;
  let succeeded = false;
  try {
    contexts = encodeContexts(model.textEncoder, ['', ...resolved.concepts]);
    const unconditional = contextOf(contexts, ''); // E_∅ [1, T, D]
    for (let s = 0; s < resolved.iterations; s++) {
      throwIfAborted(options.signal, 'esd()');
      const concept = resolved.concepts[s % resolved.concepts.length] as string;
      const conditional = contextOf(contexts, concept); // E_c [1, T, D]
      const { tEnc, timestep } = drawPartialStep(rng, resolved.samplingSteps, numTrainTimesteps);
      const noiseSeed = rng.nextUint32();
      const start = new Rng(noiseSeed).normalTensor([1, h, w, c]) as tf.Tensor4D; // x_T [1, h, w, C]
      let latents: tf.Tensor4D | undefined;
      let frozen: tf.Tensor4D[] = [];
      try {
        latents = await partialDdimSample({
          unet, alphasCumprod, timesteps, start, context: conditional, unconditional, guidanceScale: resolved.guidanceScale, tEnc, signal: options.signal,
        }); // x_t [1, h, w, C]
        const zt = latents;
        frozen = session.frozen(() => [unet.predict(zt, timestep, unconditional), unet.predict(zt, timestep, conditional)]); // ε_θ(x_t, ∅, t), ε_θ(x_t, c, t) [1, h, w, C]
        const [frozenUnconditional, frozenConditional] = frozen as [tf.Tensor4D, tf.Tensor4D];
        const loss = session.step(() =>
          esdLoss(
            { trainedConditional: unet.predict(zt, timestep, conditional), frozenUnconditional, frozenConditional }, // ε_θ'(x_t, c, t) [1, h, w, C]
            { negativeGuidance: resolved.negativeGuidance },
          ),
        );
        losses.push(loss);
        steps.push({ concept, tEnc, timestep, noiseSeed });
      } finally {
        start.dispose();
        latents?.dispose();
        tf.dispose(frozen);
      }
      reportProgress(options.onProgress, {
        stage: 'esd.train',
        step: s + 1,
        total: resolved.iterations,
        metrics: { loss: losses[losses.length - 1] as number, tEnc, timestep },
        message: concept,
      });
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
    }
    succeeded = true;
  } finally {
    session.finish(succeeded);
    if (contexts) disposeContexts(contexts);
  }
  return {
    method: 'esd',
    options: resolved,
    changedParameters: [...session.names],
    statistics: { losses, steps, trainedWeights: session.size, seconds: (performance.now() - started) / 1000 },
    dispose: () => undefined,
  };
}
