/**
 * Adversarial Preservation with the discrete search (methods.md §4; official `train_adversarial_gumbel.py`, run with
 * `--pgd_num_steps 2`: even iterations update the model, odd ones take one ascent step on the logits).
 *
 * Notation (per concept; @erase/sampling's `GumbelConceptSearch` holds π and E_vocab):
 *   π [1, C]        logits over the C candidate words, uniform 1/C at the start
 *   g [1, C]        Gumbel noise of one sample; y = GumbelSoftmax(π, g, τ, hard); c_a = reshape(y · E_vocab) [T, D]
 *   model update    c_a from a fresh sample; z from c_e, z_a from c_a (same x_T); L = L_erase + w·L_preserve
 *   search step     fresh t_enc, t, x_T and g; z_a from c_a; one Adam step on π maximising
 *                   L_preserve(z_a, c_a) = mean((x̂0_θ'(z_a, c_a) − sg[x̂0_θ(z_a, c_a)])²), the gradient reaching π
 *                   through ε_θ'(z_a, t, c_a) only (the frozen branch and the sampling run under no_grad officially)
 * The search step's z_a and frozen target need c_a *before* the search draws it inside its gradient tape (sampling
 * 50 UNet passes on the tape would keep every activation). The search draws g from `new Rng(searchSeed)`; a
 * shadow stream with the same seed yields the same g here, and y · E_vocab is recomputed with the same tfjs ops on
 * the same inputs, so the c_a used for z_a is bit-identical to the one in the tape (checked at every step). The
 * official code also samples z from c_e in the search step, unused by its loss: skipped here.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, adversarialPreserveLoss, reportProgress, throwIfAborted, type ProgressListener } from '@erase/core';
import { GumbelConceptSearch, gumbelSoftmaxWithNoise, sampleGumbelNoise } from '@erase/sampling';
import { contextOf, type PromptContexts } from '../esd/contexts';
import { drawStep, modelUpdateRecord, sampleLatents, updateModel, type ModelUpdateLosses, type ModelUpdateRecord, type TrainingFrame } from './model-update';
import type { ConceptCandidates } from './vocabulary';

/** One iteration of the Gumbel variant. */
export interface GumbelIterationRecord extends ModelUpdateRecord {
  /** The word c_a was in the model update. */
  readonly updateWord: string;
  /** The word sampled in the search step. */
  readonly searchWord: string;
  /** L_preserve at the search step's sample (before the logits moved). */
  readonly searchLoss: number;
  /** argmax π after the search step. */
  readonly bestWord: string;
}

/** Per-concept search state at the end. */
export interface GumbelSearchSummary {
  readonly concept: string;
  /** argmax π. */
  readonly bestWord: string;
  /** softmax(π) over `words` (float64). */
  readonly distribution: readonly number[];
}

interface ConceptSearch {
  readonly candidates: ConceptCandidates;
  readonly search: GumbelConceptSearch;
  readonly shadow: Rng;
  /** E_vocab as [C, T·D]. */
  readonly flat: tf.Tensor2D;
}

/**
 * Runs `iterations` (model update, search step) pairs, concept s mod K at iteration s. The candidates' embeddings
 * are not disposed; everything this creates is.
 */
export async function runGumbelStage(
  frame: TrainingFrame,
  contexts: PromptContexts,
  candidates: readonly ConceptCandidates[],
  onProgress: ProgressListener | undefined,
): Promise<{ records: GumbelIterationRecord[]; summaries: GumbelSearchSummary[] }> {
  const { options } = frame;
  const searches: ConceptSearch[] = [];
  const records: GumbelIterationRecord[] = [];
  try {
    for (const entry of candidates) {
      const seed = frame.rng.nextUint32();
      const [count, length, width] = entry.embeddings.shape; // C, T, D
      const flat = tf.reshape(entry.embeddings, [count, length * width]) as tf.Tensor2D; // [C, T, D] -> [C, T·D]
      searches.push({
        candidates: entry,
        flat,
        shadow: new Rng(seed),
        search: new GumbelConceptSearch(entry.embeddings, { tau: options.gumbel.tau, hard: options.gumbel.hard, learningRate: options.gumbel.learningRate, seed }),
      });
    }
    for (let s = 0; s < options.iterations; s++) {
      throwIfAborted(frame.signal, 'adversarialPreservation()');
      const state = searches[s % searches.length] as ConceptSearch;
      const concept = state.candidates.concept;
      const erased = contextOf(contexts, concept); // E_{c_e} [1, T, D]

      // Model update.
      const draw = drawStep(frame);
      const sample = await state.search.sample();
      sampleGumbelNoise(state.search.numCandidates, state.shadow); // keep the shadow stream in step
      const adversarial = tf.expandDims(sample.embedding, 0) as tf.Tensor3D; // c_a [T, D] -> [1, T, D]
      sample.embedding.dispose();
      let latents: tf.Tensor4D | undefined;
      let adversarialLatents: tf.Tensor4D | undefined;
      let update: ModelUpdateLosses;
      try {
        latents = await sampleLatents(frame, draw, erased); // z [1, h, w, C]
        adversarialLatents = await sampleLatents(frame, draw, adversarial); // z_a [1, h, w, C]
        update = updateModel(frame, { draw, latents, adversarialLatents, erased, adversarial });
      } finally {
        tf.dispose([adversarial, ...(latents ? [latents] : []), ...(adversarialLatents ? [adversarialLatents] : [])]);
      }

      // Search step.
      const search = await searchStep(frame, state);
      records.push({
        ...modelUpdateRecord(concept, draw, update),
        updateWord: state.candidates.words[sample.candidate] as string,
        searchWord: state.candidates.words[search.candidate] as string,
        searchLoss: search.loss,
        bestWord: state.candidates.words[state.search.bestCandidate()] as string,
      });
      reportProgress(onProgress, {
        stage: 'adversarial-preservation.train',
        step: s + 1,
        total: options.iterations,
        metrics: { loss: update.loss, eraseLoss: update.eraseLoss, preserveLoss: update.preserveLoss, searchLoss: search.loss },
        message: `${concept}: c_a = ${records[records.length - 1]?.bestWord}`,
      });
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
    }
    const summaries = searches.map((state) => ({
      concept: state.candidates.concept,
      bestWord: state.candidates.words[state.search.bestCandidate()] as string,
      distribution: Array.from(state.search.distribution()),
    }));
    return { records, summaries };
  } finally {
    for (const state of searches) {
      state.search.dispose();
      state.flat.dispose();
    }
  }
}

/** One ascent step on π (see the notation block). Returns L_preserve at the sample and the sampled row. */
async function searchStep(frame: TrainingFrame, state: ConceptSearch): Promise<{ loss: number; candidate: number }> {
  const unet = frame.model.unet;
  const draw = drawStep(frame);
  const count = state.search.numCandidates; // C
  const noise = sampleGumbelNoise(count, state.shadow); // g, the draw the search is about to make
  const logits = Float32Array.from(state.search.logitValues()); // π (float32 values, exact)
  const [predicted, predictedRow] = tf.tidy(() => {
    const y = gumbelSoftmaxWithNoise(tf.tensor2d(logits, [1, count]), tf.tensor2d(noise, [1, count]), frame.options.gumbel.tau, frame.options.gumbel.hard); // [1, C]
    const ca = tf.reshape(tf.matMul(y, state.flat), [1, ...state.search.embeddingShape]); // [1, C] x [C, T·D] -> [1, T·D] -> [1, T, D]
    return [ca as tf.Tensor3D, tf.argMax(y, 1)]; // c_a [1, T, D], row [1]
  });
  let adversarialLatents: tf.Tensor4D | undefined;
  let frozen: tf.Tensor4D | undefined;
  try {
    const expectedRow = (await predictedRow.data())[0] as number;
    adversarialLatents = await sampleLatents(frame, draw, predicted); // z_a [1, h, w, C]
    const za = adversarialLatents;
    frozen = frame.session.frozen(() => unet.predict(za, draw.timestep, predicted)); // ε_θ(z_a, c_a) [1, h, w, C]
    const target = frozen;
    const step = await state.search.step((conceptEmbedding) =>
      adversarialPreserveLoss({
        latents: za,
        alphaBar: draw.alphaBar,
        trainedAdversarial: unet.predict(za, draw.timestep, tf.expandDims(conceptEmbedding, 0) as tf.Tensor3D), // ε_θ'(z_a, c_a) [1, h, w, C]
        frozenAdversarial: target,
      }),
    );
    if (step.candidate !== expectedRow) {
      throw new Error(`internal: the Gumbel search sampled row ${step.candidate}, the shadow stream predicted ${expectedRow}`);
    }
    return { loss: step.loss, candidate: step.candidate };
  } finally {
    tf.dispose([predicted, predictedRow]);
    adversarialLatents?.dispose();
    frozen?.dispose();
  }
}
