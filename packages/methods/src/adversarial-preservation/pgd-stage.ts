/**
 * Adversarial Preservation with the continuous search (methods.md §4; official `train_adversarial_pgd.py`): c_a
 * starts at the erased embedding E_{c_e} and is carried across iterations; each iteration is one model update
 * followed by `pgd.steps` normalised ascent steps on c_a (@erase/sampling's `PgdConceptSearch`).
 *
 * Notation (per concept):
 *   model update   z from c_e; L = L_erase(z, c_e) + w·L_preserve(z, c_a) with w = 0.01 (`--erase_w_prompt`) —
 *                  the preserve term reuses z (no z_a)
 *   search         fresh t_enc, t, x_T; z from c_e (`adversarial_prompt`); then `steps` times:
 *                  f(c) = mean((x̂0_θ'(z, c) − sg[x̂0_θ(z, c)])²),  c ← c + α·∇f/‖∇f‖·‖c‖
 *                  with the frozen ε_θ(z, t, c) recomputed at the current c before each step (as the official loop)
 * Each ascent step is one `run()` of a one-step `PgdConceptSearch`, so the frozen prediction is computed outside
 * the gradient tape (its value is a constant of the step).
 */
import * as tf from '@tensorflow/tfjs-core';
import { adversarialPreserveLoss, reportProgress, throwIfAborted, type ProgressListener } from '@erase/core';
import { PgdConceptSearch } from '@erase/sampling';
import { contextOf, type PromptContexts } from '../esd/contexts';
import { drawStep, modelUpdateRecord, sampleLatents, updateModel, type ModelUpdateLosses, type ModelUpdateRecord, type TrainingFrame } from './model-update';

/** One iteration of the PGD variant. */
export interface PgdIterationRecord extends ModelUpdateRecord {
  /** f(c) before the first and the last ascent step. */
  readonly searchObjectiveFirst: number;
  readonly searchObjectiveLast: number;
  /** ‖c_a − E_{c_e}‖_F after the search. */
  readonly distanceFromStart: number;
}

/** Runs `iterations` (model update, search) pairs, concept s mod K at iteration s. Leaves no tensor behind. */
export async function runPgdStage(
  frame: TrainingFrame,
  contexts: PromptContexts,
  onProgress: ProgressListener | undefined,
): Promise<{ records: PgdIterationRecord[] }> {
  const { options } = frame;
  const unet = frame.model.unet;
  const starts = options.concepts.map((concept) => tf.squeeze(contextOf(contexts, concept), [0]) as tf.Tensor2D); // E_{c_e} [T, D]
  const searches: PgdConceptSearch[] = [];
  const records: PgdIterationRecord[] = [];
  try {
    for (const start of starts) searches.push(new PgdConceptSearch(start, { alpha: options.pgd.alpha, steps: 1 }));
    for (let s = 0; s < options.iterations; s++) {
      throwIfAborted(frame.signal, 'adversarialPreservation()');
      const k = s % options.concepts.length;
      const concept = options.concepts[k] as string;
      const search = searches[k] as PgdConceptSearch;
      const erased = contextOf(contexts, concept); // E_{c_e} [1, T, D]

      // Model update.
      const draw = drawStep(frame);
      const current = search.current(); // c_a [T, D]
      const adversarial = tf.expandDims(current, 0) as tf.Tensor3D; // [1, T, D]
      current.dispose();
      let latents: tf.Tensor4D | undefined;
      let update: ModelUpdateLosses;
      try {
        latents = await sampleLatents(frame, draw, erased); // z [1, h, w, C]
        update = updateModel(frame, { draw, latents, adversarialLatents: latents, erased, adversarial });
      } finally {
        adversarial.dispose();
        latents?.dispose();
      }

      // Search.
      const searchDraw = drawStep(frame);
      const objectives: number[] = [];
      const z = await sampleLatents(frame, searchDraw, erased); // z [1, h, w, C]
      try {
        for (let j = 0; j < options.pgd.steps; j++) {
          throwIfAborted(frame.signal, 'adversarialPreservation() (PGD search)');
          const frozen = tf.tidy(() => {
            const c = tf.expandDims(search.current(), 0) as tf.Tensor3D; // c [1, T, D]
            return frame.session.frozen(() => unet.predict(z, searchDraw.timestep, c)); // ε_θ(z, c) [1, h, w, C]
          });
          try {
            const values = await search.run((c) =>
              adversarialPreserveLoss({
                latents: z,
                alphaBar: searchDraw.alphaBar,
                trainedAdversarial: unet.predict(z, searchDraw.timestep, tf.expandDims(c, 0) as tf.Tensor3D), // ε_θ'(z, c) [1, h, w, C]
                frozenAdversarial: frozen,
              }),
            );
            objectives.push(values[0] as number);
          } finally {
            frozen.dispose();
          }
        }
      } finally {
        z.dispose();
      }
      const distanceFromStart = tf.tidy(() => tf.norm(tf.sub(search.current(), starts[k] as tf.Tensor2D)).dataSync()[0] as number); // ‖c_a − E_c‖
      records.push({
        ...modelUpdateRecord(concept, draw, update),
        searchObjectiveFirst: objectives[0] as number,
        searchObjectiveLast: objectives[objectives.length - 1] as number,
        distanceFromStart,
      });
      reportProgress(onProgress, {
        stage: 'adversarial-preservation.train',
        step: s + 1,
        total: options.iterations,
        metrics: { loss: update.loss, eraseLoss: update.eraseLoss, preserveLoss: update.preserveLoss, searchObjective: objectives[objectives.length - 1] as number, distanceFromStart },
        message: concept,
      });
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
    }
    return { records };
  } finally {
    for (const search of searches) search.dispose();
    tf.dispose(starts);
  }
}
