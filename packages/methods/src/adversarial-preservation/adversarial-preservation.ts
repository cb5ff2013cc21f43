/**
 * Adversarial Preservation (Bui et al., "Erasing Undesirable Concepts in Diffusion Models with Adversarial
 * Preservation", NeurIPS 2024; methods.md §4; official `train_adversarial_gumbel.py` / `train_adversarial_pgd.py`)
 * on any `DiffusionModel`: ESD's erase objective, in x̂0 space, plus a preservation term on the concept c_a that the
 * current model damages most, found by an adversarial search that alternates with the model updates.
 *
 * Order of work:
 *   Gumbel: rank the vocabulary against each concept (vocabulary.ts), then per iteration one model update and one
 *           ascent step on the logits (gumbel-stage.ts)
 *   PGD:    per iteration one model update and `pgd.steps` ascent steps on c_a (pgd-stage.ts)
 * Pieces shared with ESD: parameter selection, the frozen-model snapshot and the Adam step (esd/fine-tuning.ts),
 * partial DDIM sampling and the (t_enc, t) draw (shared/partial-sampling.ts). The model is changed in place; on
 * error or abort the original weights are written back.
 */
import { InvalidOptionError, Rng, ensureGradients, throwIfAborted, type DiffusionModel } from '@erase/core';
import { contextOf, disposeContexts, encodeContexts } from '../esd/contexts';
import { startFineTuning } from '../esd/fine-tuning';
import type { ErasureResultBase } from '../shared/erasure-result';
import { ddimTimesteps } from '../shared/partial-sampling';
import { runGumbelStage, type GumbelIterationRecord, type GumbelSearchSummary } from './gumbel-stage';
import type { TrainingFrame } from './model-update';
import {
  resolveAdversarialPreservationOptions,
  type AdversarialPreservationOptions,
  type ResolvedAdversarialPreservationOptions,
} from './options';
import { runPgdStage, type PgdIterationRecord } from './pgd-stage';
import { buildCandidates, vocabularyWords, type ConceptCandidates } from './vocabulary';

/** The Gumbel search's candidates of one concept (host data only). */
export interface AdversarialCandidateSummary {
  readonly concept: string;
  /** The C representative words, nearest cluster first. */
  readonly words: readonly string[];
  /** ‖E_w − E_c‖ of each. */
  readonly distances: readonly number[];
  /** K used. */
  readonly nearest: number;
  /** Vocabulary words left out as the erased word(s). */
  readonly excluded: readonly string[];
}

/** Statistics of a run. */
export interface AdversarialPreservationStatistics {
  /** Model-update loss L of every iteration. */
  readonly losses: readonly number[];
  /** Gumbel: per-iteration records, incl. the words the search picked over time. */
  readonly gumbel?: {
    readonly vocabularySize: number;
    readonly candidates: readonly AdversarialCandidateSummary[];
    readonly iterations: readonly GumbelIterationRecord[];
    readonly final: readonly GumbelSearchSummary[];
  };
  /** PGD: per-iteration records, incl. how far c_a moved. */
  readonly pgd?: { readonly iterations: readonly PgdIterationRecord[] };
  /** Scalar weights trained. */
  readonly trainedWeights: number;
  readonly seconds: number;
}

/** Result of `adversarialPreservation()`. Holds no tensors (the trained weights are in the model). */
export interface AdversarialPreservationResult extends ErasureResultBase {
  readonly method: 'adversarial-preservation';
  readonly options: ResolvedAdversarialPreservationOptions;
  readonly statistics: AdversarialPreservationStatistics;
  dispose(): void;
}

/**
 * Erases `options.concepts` from `model` in place. Progress stages: `adversarial-preservation.vocabulary` (Gumbel,
 * ranking the vocabulary), `adversarial-preservation.train` (one event per iteration).
 * @throws InvalidOptionError for bad options (also `samplingSteps` against the scheduler's T, and a `vocabulary`
 *   with no word besides the erased one); UnsupportedError when `trainable` selects no parameter; AbortedError on
 *   abort (the original weights are back in the model).
 */
export async function adversarialPreservation(model: DiffusionModel, options: AdversarialPreservationOptions): Promise<AdversarialPreservationResult> {
  const resolved = resolveAdversarialPreservationOptions(options);
  const timesteps = ddimTimesteps(model.scheduler.alphasCumprod.length, resolved.samplingSteps); // τ_i ascending
  const words = resolved.vocabulary === 'model' ? vocabularyWords(model.textEncoder) : resolved.vocabulary;
  if (resolved.search === 'gumbel' && words.length === 0) {
    throw new InvalidOptionError({ option: 'vocabulary', expected: 'at least one candidate word (the text encoder has no whole-word tokens)', received: words });
  }
  throwIfAborted(options.signal, 'adversarialPreservation()');
  await ensureGradients();
  const started = performance.now();
  const rng = new Rng(resolved.seed);
  const searchRng = rng.fork();
  const candidateSeed = rng.nextUint32();

  const session = startFineTuning(model, resolved.trainable, resolved.learningRate);
  let contexts: ReturnType<typeof encodeContexts> | undefined;
  let candidates: ConceptCandidates[] = [];
  let succeeded = false;
  try {
    contexts = encodeContexts(model.textEncoder, ['', ...resolved.concepts]);
    const frame: TrainingFrame = { model, session, options: resolved, timesteps, unconditional: contextOf(contexts, ''), rng: searchRng, signal: options.signal };
    let statistics: AdversarialPreservationStatistics;
    if (resolved.search === 'gumbel') {
      candidates = await buildCandidates(model.textEncoder, resolved.concepts, words, {
        ...resolved.gumbel,
        includeErasedWord: resolved.includeErasedWord,
        seed: candidateSeed,
        onProgress: options.onProgress,
        signal: options.signal,
      });
      const { records, summaries } = await runGumbelStage(frame, contexts, candidates, options.onProgress);
      statistics = {
        losses: records.map((r) => r.loss),
        gumbel: {
          vocabularySize: words.length,
          candidates: candidates.map(({ concept, words: chosen, distances, nearest, excluded }) => ({ concept, words: chosen, distances, nearest, excluded })),
          iterations: records,
          final: summaries,
        },
        trainedWeights: session.size,
        seconds: 0,
      };
    } else {
      const { records } = await runPgdStage(frame, contexts, options.onProgress);
      statistics = { losses: records.map((r) => r.loss), pgd: { iterations: records }, trainedWeights: session.size, seconds: 0 };
    }
    succeeded = true;
    return {
      method: 'adversarial-preservation',
      options: resolved,
      changedParameters: [...session.names],
      statistics: { ...statistics, seconds: (performance.now() - started) / 1000 },
      dispose: () => undefined,
    };
  } finally {
    session.finish(succeeded);
    if (contexts) disposeContexts(contexts);
    for (const entry of candidates) entry.embeddings.dispose();
  }
}
