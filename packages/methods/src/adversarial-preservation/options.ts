/**
 * Options of `adversarialPreservation()`, their defaults and validation (Bui et al., "Erasing Undesirable Concepts
 * in Diffusion Models with Adversarial Preservation", NeurIPS 2024; methods.md §4; official
 * `train_adversarial_gumbel.py` / `train_adversarial_pgd.py` with the settings of the repository's run scripts).
 *
 *   option                 default                official
 *   search                 'gumbel'               the paper's tables use the Gumbel (discrete) search
 *   trainable              'x'                    `--train_method xattn` (`noxattn` = 'u'), as ESD
 *   iterations             1000                   `--iterations 1000` model updates (each followed by a search step)
 *   learningRate           1e-5                   `--lr 1e-5`, Adam on the UNet
 *   negativeGuidance       1                      `--negative_guidance 1` (η of the erase term)
 *   guidanceScale          3                      `--start_guidance 3` (CFG of the partial sampling)
 *   samplingSteps          50                     `--ddim_steps 50`
 *   preserveWeight         1 (gumbel) / 0.01 (pgd)   gumbel: `loss += criteria(...)`; pgd: `--erase_w_prompt 0.01`
 *   gumbel.k               1000                   `--gumbel_k_closest 1000` (2000 for nudity)
 *   gumbel.numCenters      100                    `--gumbel_num_centers 100` (50 for nudity), per concept
 *   gumbel.tau             2                      `--gumbel_temp 2`
 *   gumbel.hard            true                   `--gumbel_hard 1`
 *   gumbel.learningRate    1e-2                   `--gumbel_lr 1e-2`, Adam ascent on the logits
 *   gumbel.encodeBatchSize 32                     (ours) vocabulary prompts per encoder call
 *   pgd.steps              100                    `--pgd_num_steps 100`
 *   pgd.alpha              1e-5                   `--pgd_lr 1e-5`
 *   vocabulary             the encoder's words    `--vocab EN3K` (a 3,000-word English list) there; ours: every
 *                                                 vocabulary entry that is a whole alphabetic word (`…</w>`)
 *   includeErasedWord      false                  the official code keeps it; we exclude it (methods.md §4)
 *   seed                   0
 */
import { InvalidOptionError, type LongRunningOptions } from '@erase/core';
import { PGD_DEFAULTS } from '@erase/sampling';
import {
  booleanOption,
  checkKnownKeys,
  finiteAtLeast,
  integerAtLeast,
  listenerOption,
  objectOption,
  oneOf,
  positiveNumber,
  signalOption,
  stringList,
} from '../shared/validate';
import type { EsdVariant } from '../esd/parameter-selection';

/** The adversarial-concept search. */
export type AdversarialSearch = 'gumbel' | 'pgd';

/** Settings of the discrete (Gumbel-Softmax) search. */
export interface AdversarialGumbelOptions {
  /** K nearest vocabulary words kept per concept (L2 over the flattened [T, D] output). Default 1000. */
  readonly k?: number;
  /** Representatives after 1-D k-means on the distances, per concept. Default 100. */
  readonly numCenters?: number;
  /** Gumbel-Softmax temperature τ. Default 2. */
  readonly tau?: number;
  /** Straight-through one-hot samples. Default true. */
  readonly hard?: boolean;
  /** Adam learning rate of the logits (ascent). Default 1e-2. */
  readonly learningRate?: number;
  /** Vocabulary prompts per text-encoder call while ranking the vocabulary. Default 32. */
  readonly encodeBatchSize?: number;
}

/** Settings of the continuous (PGD) search. */
export interface AdversarialPgdOptions {
  /** Ascent steps after each model update. Default 100. */
  readonly steps?: number;
  /** α of c ← c + α·g/‖g‖·‖c‖. Default 1e-5. */
  readonly alpha?: number;
}

/** Options of `adversarialPreservation()`. Only `concepts` is required. */
export interface AdversarialPreservationOptions extends LongRunningOptions {
  /** Prompts of the concepts to erase. */
  readonly concepts: readonly string[];
  /** Default 'gumbel'. */
  readonly search?: AdversarialSearch;
  /** Which UNet weights train: 'x' (attn2) or 'u' (all but attn2, time embedding, output layers). Default 'x'. */
  readonly trainable?: EsdVariant;
  readonly iterations?: number;
  readonly learningRate?: number;
  readonly negativeGuidance?: number;
  readonly guidanceScale?: number;
  readonly samplingSteps?: number;
  /** Weight of L_preserve in the model loss. Default 1 (gumbel) or 0.01 (pgd). */
  readonly preserveWeight?: number;
  readonly gumbel?: AdversarialGumbelOptions;
  readonly pgd?: AdversarialPgdOptions;
  /** Candidate words for the Gumbel search. Default: the text encoder's whole-word alphabetic tokens. */
  readonly vocabulary?: readonly string[];
  /** Keep the erased concept's own word(s) among the candidates. Default false. */
  readonly includeErasedWord?: boolean;
  /** Seed of every draw. Default 0. */
  readonly seed?: number;
}

/** Options after defaults and validation (JSON-serialisable). */
export interface ResolvedAdversarialPreservationOptions {
  readonly concepts: readonly string[];
  readonly search: AdversarialSearch;
  readonly trainable: EsdVariant;
  readonly iterations: number;
  readonly learningRate: number;
  readonly negativeGuidance: number;
  readonly guidanceScale: number;
  readonly samplingSteps: number;
  readonly preserveWeight: number;
  readonly gumbel: Required<AdversarialGumbelOptions>;
  readonly pgd: Required<AdversarialPgdOptions>;
  /** The given word list, or `'model'` for the encoder's vocabulary. */
  readonly vocabulary: readonly string[] | 'model';
  readonly includeErasedWord: boolean;
  readonly seed: number;
}

/** The defaults table above, as data (`preserveWeight` per search). */
export const ADVERSARIAL_PRESERVATION_DEFAULTS = Object.freeze({
  search: 'gumbel' as AdversarialSearch,
  trainable: 'x' as EsdVariant,
  iterations: 1000,
  learningRate: 1e-5,
  negativeGuidance: 1,
  guidanceScale: 3,
  samplingSteps: 50,
  preserveWeight: Object.freeze({ gumbel: 1, pgd: 0.01 }),
  gumbel: Object.freeze({ k: 1000, numCenters: 100, tau: 2, hard: true, learningRate: 1e-2, encodeBatchSize: 32 }),
  pgd: Object.freeze({ steps: PGD_DEFAULTS.steps, alpha: PGD_DEFAULTS.alpha }),
  includeErasedWord: false,
  seed: 0,
});

const KNOWN = [
  'concepts', 'search', 'trainable', 'iterations', 'learningRate', 'negativeGuidance', 'guidanceScale', 'samplingSteps', 'preserveWeight',
  'gumbel', 'pgd', 'vocabulary', 'includeErasedWord', 'seed', 'onProgress', 'signal',
];
const GUMBEL = ['k', 'numCenters', 'tau', 'hard', 'learningRate', 'encodeBatchSize'];
const PGD = ['steps', 'alpha'];

/**
 * Validates `options` and fills in defaults. (`samplingSteps` is checked against the model's T at run time.)
 * @throws InvalidOptionError naming the (dotted) option.
 */
export function resolveAdversarialPreservationOptions(options: AdversarialPreservationOptions): ResolvedAdversarialPreservationOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError({ option: 'options', expected: 'an object', received: options });
  const D = ADVERSARIAL_PRESERVATION_DEFAULTS;
  checkKnownKeys(options, KNOWN, '', 'adversarialPreservation()');
  signalOption(options.signal);
  listenerOption('onProgress', options.onProgress);
  const concepts = stringList('concepts', options.concepts, 1);
  if (concepts.some((c) => c.trim().length === 0)) throw new InvalidOptionError({ option: 'concepts', expected: 'non-empty concept prompts', received: concepts });
  const search = oneOf('search', options.search ?? D.search, ['gumbel', 'pgd'] as const);
  const seed = options.seed ?? D.seed;
  if (!Number.isSafeInteger(seed)) throw new InvalidOptionError({ option: 'seed', expected: 'a safe integer', received: seed });

  const g = objectOption('gumbel', options.gumbel);
  checkKnownKeys(g, GUMBEL, 'gumbel', 'adversarialPreservation()');
  const gumbel = {
    k: integerAtLeast('gumbel.k', g.k ?? D.gumbel.k, 1),
    numCenters: integerAtLeast('gumbel.numCenters', g.numCenters ?? D.gumbel.numCenters, 1),
    tau: positiveNumber('gumbel.tau', g.tau ?? D.gumbel.tau),
    hard: booleanOption('gumbel.hard', g.hard ?? D.gumbel.hard),
    learningRate: positiveNumber('gumbel.learningRate', g.learningRate ?? D.gumbel.learningRate),
    encodeBatchSize: integerAtLeast('gumbel.encodeBatchSize', g.encodeBatchSize ?? D.gumbel.encodeBatchSize, 1),
  };
  const p = objectOption('pgd', options.pgd);
  checkKnownKeys(p, PGD, 'pgd', 'adversarialPreservation()');
  const pgd = {
    steps: integerAtLeast('pgd.steps', p.steps ?? D.pgd.steps, 1),
    alpha: positiveNumber('pgd.alpha', p.alpha ?? D.pgd.alpha),
  };
  let vocabulary: readonly string[] | 'model' = 'model';
  if (options.vocabulary !== undefined) {
    const words = stringList('vocabulary', options.vocabulary, 1);
    if (words.some((w) => w.trim().length === 0)) throw new InvalidOptionError({ option: 'vocabulary', expected: 'non-empty words', received: words });
    vocabulary = words;
  }
  return {
    concepts,
    search,
    trainable: oneOf('trainable', options.trainable ?? D.trainable, ['x', 'u'] as const),
    iterations: integerAtLeast('iterations', options.iterations ?? D.iterations, 1),
    learningRate: positiveNumber('learningRate', options.learningRate ?? D.learningRate),
    negativeGuidance: finiteAtLeast('negativeGuidance', options.negativeGuidance ?? D.negativeGuidance),
    guidanceScale: finiteAtLeast('guidanceScale', options.guidanceScale ?? D.guidanceScale),
    samplingSteps: integerAtLeast('samplingSteps', options.samplingSteps ?? D.samplingSteps, 1),
    preserveWeight: finiteAtLeast('preserveWeight', options.preserveWeight ?? D.preserveWeight[search]),
    gumbel,
    pgd,
    vocabulary,
    includeErasedWord: booleanOption('includeErasedWord', options.includeErasedWord ?? D.includeErasedWord),
    seed,
  };
}
