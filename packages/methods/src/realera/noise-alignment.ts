/**
 * RealEra stage (c): prediction-noise alignment with LoRA (paper §4.3, eqs. 8–9, Algorithm 1 lines 25–30;
 * methods.md §3). Only the adapter's factors train (Adam); everything else is frozen.
 *
 * Notation:
 *   z_0      latents of images generated from the anchor prompt p_c* (anchor-latents.ts), [n, h, w, C]
 *   z_t      √ᾱ_t z_0 + √(1 − ᾱ_t) ε, ε ~ N(0, I), t ~ U{0, …, T_train − 1} (the DDPM forward process)
 *   ε / ε̂    the trained model (θ' + Δ) / the original model (original-model.ts)
 *   E_c, E_c*  encoder outputs of p_c / p_c*; p'_c, p''_c: E_c with the erased slice replaced by a freshly mined
 *            neighbour / beyond-concept sample (concept-slices.ts)
 *   odd steps  (eq. 8): w_e ‖ε(z_t, t, E_c) − ε̂(z_t, t, E_c*)‖²
 *   even steps (eq. 9): w_n ‖ε(z_t, t, p'_c) − ε̂(z_t, t, E_c*)‖² + w_b ‖ε(z_t, t, p''_c) − ε̂(z_t, t, p''_c)‖²
 * ‖·‖² is a mean over elements (core's losses). Our readings: steps are numbered from 1, so the first step is odd;
 * with several concepts, concept k = ⌊(s − 1)/2⌋ mod K takes steps in (odd, even) pairs; without mined samples
 * (mining off, `useMinedSamples: false`) every step is eq. 8; with N = 0 the even step has only its first term; with
 * M = 0 its first term trains on E_c itself (eq. 8's term, weighted by w_n) beside the beyond term; with M = N = 0
 * every step is eq. 8.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  accumulateGradients,
  microBatchSizes,
  realEraEvenStepLoss,
  realEraOddStepLoss,
  reportProgress,
  throwIfAborted,
  type DiffusionModel,
  type LongRunningOptions,
  type LoraAdapter,
  type Rng,
} from '@erase/core';
import type { ResolvedRealEraSamplerOptions } from '@erase/sampling';
import { batchContext, replaceSlice, type ConceptSlices } from './concept-slices';
import { mineConcept } from './mining-stage';
import type { ResolvedRealEraOptions } from './options';
import type { OriginalModelView } from './original-model';

/** Statistics of the LoRA stage. */
export interface RealEraLoraStatistics {
  readonly steps: number;
  /** Loss of every step (eq. 8 or eq. 9), in order. */
  readonly losses: readonly number[];
  /** Whether step s (index s − 1) used eq. 9. */
  readonly evenSteps: readonly boolean[];
  /** Mean loss of the eq. 8 steps (NaN when none). */
  readonly meanOddLoss: number;
  /** Mean loss of the eq. 9 steps (NaN when none). */
  readonly meanEvenLoss: number;
  /** Fresh neighbour/beyond draws (one per even step). */
  readonly resamples: number;
}

/** Everything the stage needs. */
export interface NoiseAlignmentInputs {
  readonly model: DiffusionModel;
  readonly concepts: readonly ConceptSlices[];
  /** Anchor latents z_0 of concept k, [n_k, h, w, C] (not disposed). */
  readonly anchorLatents: readonly tf.Tensor4D[];
  readonly reference: OriginalModelView;
  readonly adapter: LoraAdapter;
  readonly options: ResolvedRealEraOptions['lora'];
  /** Sampler settings, or undefined when no mined samples are used. */
  readonly sampler: ResolvedRealEraSamplerOptions | undefined;
  readonly rng: Rng;
  readonly length: number;
  readonly width: number;
}

/**
 * Trains the attached adapter for `options.steps` steps. No tensor is left behind (the optimizer is disposed).
 * @throws AbortedError between steps; SamplingExhaustedError from the fresh draws.
 */
export async function alignPredictionNoise(inputs: NoiseAlignmentInputs, run: LongRunningOptions): Promise<RealEraLoraStatistics> {
  const { model, concepts, options, rng, length, width } = inputs;
  const optimizer = tf.train.adam(options.learningRate, 0.9, 0.999, 1e-8); // torch.optim.Adam defaults (tfjs: ε = backend epsilon)
  const alphasCumprod = model.scheduler.alphasCumprod;
  const sizes = microBatchSizes(options.batchSize, options.microBatchSize);
  const batch = options.batchSize; // B
  const losses: number[] = [];
  const evenSteps: boolean[] = [];
  let resamples = 0;
  try {
    for (let step = 1; step <= options.steps; step++) {
      throwIfAborted(run.signal, 'realEra (LoRA stage)');
      const concept = concepts[Math.floor((step - 1) / 2) % concepts.length] as ConceptSlices;
      const latents = inputs.anchorLatents[concepts.indexOf(concept)] as tf.Tensor4D;
      const neighbourWanted = inputs.sampler !== undefined && inputs.sampler.numNeighbours > 0 ? 1 : 0;
      const beyondWanted = inputs.sampler !== undefined && inputs.sampler.numBeyond > 0 ? 1 : 0;
      const even = step % 2 === 0 && neighbourWanted + beyondWanted > 0;
      let neighbourContext: Float32Array | undefined;
      let beyondContext: Float32Array | undefined;
      if (even && inputs.sampler) {
        const fresh = await mineConcept(concept, width, inputs.sampler, rng, { neighbours: neighbourWanted, beyond: beyondWanted });
        resamples++;
        if (neighbourWanted) neighbourContext = replaceSlice(concept, fresh.neighbours, width); // p'_c [T, D]
        if (beyondWanted) beyondContext = replaceSlice(concept, fresh.beyond, width); // p''_c [T, D]
      }

      const t = rng.int(alphasCumprod.length);
      const a = alphasCumprod[t] as number; // ᾱ_t
      const picks = Array.from({ length: batch }, () => rng.int(latents.shape[0]));
      const noise = rng.normalTensor([batch, ...latents.shape.slice(1)]); // ε [B, h, w, C]
      const tensors = tf.tidy(() => {
        const z0 = tf.gather(latents, tf.tensor1d(picks, 'int32')) as tf.Tensor4D; // [B, h, w, C]
        const zt = tf.add(tf.mul(z0, Math.sqrt(a)), tf.mul(noise, Math.sqrt(1 - a))) as tf.Tensor4D; // z_t [B, h, w, C]
        const trained = batchContext(neighbourContext ?? concept.context, batch, length, width); // E_c or p'_c [B, T, D]
        const anchorContext = batchContext(concept.anchorContext, batch, length, width); // E_c* [B, T, D]
        const beyond = beyondContext ? batchContext(beyondContext, batch, length, width) : undefined; // p''_c [B, T, D]
        return { zt, trained, anchorContext, beyond };
      });
      noise.dispose();
      let frozenAnchor: tf.Tensor4D | undefined;
      let frozenBeyond: tf.Tensor4D | undefined;
      try {
        // ε̂ in the same micro-batches as the trained branch (lora.microBatchSize bounds every UNet call)
        const reference = (context: tf.Tensor3D): tf.Tensor4D => {
          if (sizes.length === 1) return inputs.reference.predict(tensors.zt, t, context); // [B, h, w, C]
          const parts: tf.Tensor4D[] = [];
          try {
            let offset = 0;
            for (const size of sizes) {
              parts.push(tf.tidy(() => inputs.reference.predict(tf.slice(tensors.zt, [offset], [size]) as tf.Tensor4D, t, tf.slice(context, [offset], [size]) as tf.Tensor3D))); // [b, h, w, C]
              offset += size;
            }
            return tf.concat(parts, 0) as tf.Tensor4D; // [B, h, w, C]
          } finally {
            tf.dispose(parts);
          }
        };
        const anchorTarget = reference(tensors.anchorContext); // ε̂(z_t, t, E_c*) [B, h, w, C]
        frozenAnchor = anchorTarget;
        const beyondTarget = tensors.beyond ? reference(tensors.beyond) : undefined; // ε̂(z_t, t, p''_c) [B, h, w, C]
        frozenBeyond = beyondTarget;
        const { loss, grads } = accumulateGradients(
          sizes,
          (m) => {
            const size = sizes[m] as number;
            const offset = sizes.slice(0, m).reduce((sum, b) => sum + b, 0);
            const rows = <T extends tf.Tensor>(x: T): T => tf.slice(x, [offset], [size]) as T; // micro-batch rows [b, …]
            const zt = rows(tensors.zt);
            return even
              ? stepLossEven(inputs, zt, t, rows(tensors.trained), rows(anchorTarget), tensors.beyond ? rows(tensors.beyond) : undefined, beyondTarget ? rows(beyondTarget) : undefined)
              : realEraOddStepLoss(
                  { trainedErased: model.unet.predict(zt, t, rows(tensors.trained)), frozenAnchor: rows(anchorTarget) },
                  { eraseWeight: options.eraseWeight },
                );
          },
          { variables: inputs.adapter.variables, signal: run.signal },
        );
        optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
        tf.dispose(Object.values(grads));
        losses.push(loss);
        evenSteps.push(even);
      } finally {
        tf.dispose([tensors.zt, tensors.trained, tensors.anchorContext]);
        tensors.beyond?.dispose();
        frozenAnchor?.dispose();
        frozenBeyond?.dispose();
      }
      reportProgress(run.onProgress, {
        stage: 'realera.lora',
        step,
        total: options.steps,
        metrics: { loss: losses[losses.length - 1] as number, evenStep: even ? 1 : 0 },
        message: concept.prompt,
      });
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
    }
  } finally {
    optimizer.dispose();
  }
  const mean = (values: number[]): number => (values.length ? values.reduce((s, x) => s + x, 0) / values.length : Number.NaN);
  return {
    steps: options.steps,
    losses,
    evenSteps,
    meanOddLoss: mean(losses.filter((_, i) => !evenSteps[i])),
    meanEvenLoss: mean(losses.filter((_, i) => evenSteps[i])),
    resamples,
  };
}

/** Eq. 9 on one micro-batch (only its first term when there is no beyond sample). */
function stepLossEven(
  inputs: NoiseAlignmentInputs,
  zt: tf.Tensor4D,
  t: number,
  neighbourContext: tf.Tensor3D,
  frozenAnchor: tf.Tensor4D,
  beyondContext: tf.Tensor3D | undefined,
  frozenBeyond: tf.Tensor4D | undefined,
): tf.Scalar {
  const unet = inputs.model.unet;
  const trainedNeighbor = unet.predict(zt, t, neighbourContext); // ε(z_t, t, p'_c) [b, h, w, C]
  if (!beyondContext || !frozenBeyond) {
    return realEraOddStepLoss({ trainedErased: trainedNeighbor, frozenAnchor }, { eraseWeight: inputs.options.neighbourWeight });
  }
  const trainedBeyond = unet.predict(zt, t, beyondContext); // ε(z_t, t, p''_c) [b, h, w, C]
  return realEraEvenStepLoss(
    { trainedNeighbor, frozenAnchor, trainedBeyond, frozenBeyond },
    { neighborWeight: inputs.options.neighbourWeight, beyondWeight: inputs.options.beyondWeight },
  );
}
