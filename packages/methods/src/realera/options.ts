/**
 * Options of `realEra()`, their defaults and validation (Liu et al., "RealEra: Semantic-level Concept Erasure via
 * Neighbor-Concept Mining", §4–5 and Algorithm 1; methods.md §1–3).
 *
 * Paper → option:
 *   stage A–D of the ablation (Table 3)   `stages.{closedForm, lora, mining}`, `sampler.numBeyond = 0` (no beyond)
 *   λ1 = 0.1 (§5)                          `closedForm.preserveWeight`
 *   ridge λ (not in eq. 7; ours, as UCE)   `closedForm.lambda` = 0.5: eq. 7 alone is singular for few keys
 *   M, N, D1, D1', D2, S2, S1              `sampler.*` (@erase/sampling's options and defaults, but `rescale: 'original-norm'`)
 *   200 epochs, lr 1e-5 (§5)               `lora.steps`, `lora.learningRate`; one Adam step per "epoch", resampling each
 *   rank-1 LoRA on attn2.to_k/to_v         `lora.rank`, `lora.targetModules` (MACE's choice; the paper names none)
 * Ablation variants: 1 closed form only `{ stages: { mining: false, lora: false } }`; 2 + noise alignment
 * `{ stages: { mining: false } }`; 3 + neighbour mining `{ sampler: { numBeyond: 0 } }`; 4 (full) the defaults.
 */
import { InvalidOptionError, type LongRunningOptions, type ProjectionName } from '@erase/core';
import {
  REALERA_SAMPLER_DEFAULTS,
  resolveRealEraSamplerOptions,
  type RealEraSamplerOptions,
  type ResolvedRealEraSamplerOptions,
} from '@erase/sampling';
import type * as tf from '@tensorflow/tfjs-core';
import { resolveProjections } from '../uce/options';
import {
  booleanOption,
  checkKnownKeys,
  finiteAtLeast,
  integerAtLeast,
  listenerOption,
  objectOption,
  pairAnchors,
  positiveNumber,
  signalOption,
  stringList,
} from '../shared/validate';

/** Which stages run. Default: all. */
export interface RealEraStages {
  /** Neighbour mining + beyond-concept samples (§4.1–4.2). Off: no mined samples in any stage. */
  readonly mining?: boolean;
  /** Closed-form edit of every attn2 to_k/to_v (§4.2, eq. 7). */
  readonly closedForm?: boolean;
  /** LoRA prediction-noise alignment (§4.3, eqs. 8–9). */
  readonly lora?: boolean;
}

/** Closed-form stage settings. */
export interface RealEraClosedFormOptions {
  /** Ridge λ ≥ 0 (our addition, UCE's value). Default 0.5. */
  readonly lambda?: number;
  /** λ1 ≥ 0, the weight of every preserve term (§5). Default 0.1. */
  readonly preserveWeight?: number;
  /** Per-row weight of mined neighbours relative to the concept's own rows. Default 1. */
  readonly neighbourWeight?: number;
  /** Per-row weight of beyond-concept samples relative to preserved prompts' rows. Default 1. */
  readonly beyondWeight?: number;
  /** Put the mined samples into this stage (Algorithm 1 line 24). Default true. */
  readonly useMinedSamples?: boolean;
  /** Default `['to_k', 'to_v']`. */
  readonly projections?: readonly ProjectionName[];
}

/** LoRA stage settings. */
export interface RealEraLoraOptions {
  /** r ≥ 1. Default 1. */
  readonly rank?: number;
  /** α > 0; the update is scaled by α/r. Default r. */
  readonly alpha?: number;
  /** Default `['attn2.to_k', 'attn2.to_v']`. */
  readonly targetModules?: readonly string[];
  /** Optimizer steps ("epochs" in the paper), each with fresh samples. Default 200. */
  readonly steps?: number;
  /** Adam learning rate. Default 1e-5. */
  readonly learningRate?: number;
  /** Noised latents per step. Default 1. */
  readonly batchSize?: number;
  /** Largest micro-batch (gradient accumulation). Default `batchSize`. */
  readonly microBatchSize?: number;
  /** Weight w_e of eq. 8. Default 1. */
  readonly eraseWeight?: number;
  /** Weight w_n of eq. 9's neighbour term. Default 1. */
  readonly neighbourWeight?: number;
  /** Weight w_b of eq. 9's beyond term. Default 1. */
  readonly beyondWeight?: number;
  /** Alternate eq. 8 (odd steps) with eq. 9 (even steps). Default true; false (or no mining) uses eq. 8 at every step. */
  readonly useMinedSamples?: boolean;
  /** Images generated per anchor prompt for z_t. Default 4. */
  readonly anchorImages?: number;
  /** Denoising steps of that generation. Default 25. */
  readonly generationSteps?: number;
  /** Guidance scale of that generation. Default: the model's. */
  readonly guidanceScale?: number;
  /** Latents [n, h, w, C] to noise instead of generating them (used for every concept; not disposed). */
  readonly anchorLatents?: tf.Tensor4D;
  /** Fuse the trained LoRA into the base weights at the end. Default false (the adapter stays attached). */
  readonly fuse?: boolean;
}

/** Options of `realEra()`. Only `concepts` is required. */
export interface RealEraOptions extends LongRunningOptions {
  /** Prompts p_c of the concepts to erase. */
  readonly concepts: readonly string[];
  /** Anchor prompts p_c*: one for all, or one per concept. Default `['']`. */
  readonly anchorConcepts?: readonly string[];
  /** Prompts whose outputs are preserved (all T rows each, weight λ1). Default none. */
  readonly preserveConcepts?: readonly string[];
  /** Also preserve `''` (as UCE 2023, which RealEra's token selection follows). Default true. */
  readonly preserveEmptyPrompt?: boolean;
  readonly stages?: RealEraStages;
  /** Mining settings (@erase/sampling). `rng`/`seed` are not accepted here: use `seed`. */
  readonly sampler?: Omit<RealEraSamplerOptions, 'rng' | 'seed'>;
  readonly closedForm?: RealEraClosedFormOptions;
  readonly lora?: RealEraLoraOptions;
  /** Seed of every random draw (mining, generation, timesteps, noise, LoRA init). Default 0. */
  readonly seed?: number;
}

/** Options after defaults and validation. */
export interface ResolvedRealEraOptions {
  readonly concepts: readonly string[];
  readonly anchorConcepts: readonly string[];
  readonly preservePrompts: readonly string[];
  readonly stages: Required<RealEraStages>;
  readonly sampler: ResolvedRealEraSamplerOptions;
  readonly closedForm: Required<RealEraClosedFormOptions>;
  readonly lora: Required<Omit<RealEraLoraOptions, 'anchorLatents' | 'guidanceScale'>> & {
    readonly guidanceScale: number | undefined;
    readonly anchorLatents: 'given' | 'generated';
  };
  readonly seed: number;
}

/**
 * Where realEra() departs from @erase/sampling's defaults: every mined sample is rescaled to the norm of the vector
 * it perturbs (same cosine, so the same samples are accepted). As drawn, neighbours reach D1 = 4‖e‖ and beyond
 * samples D2 = 8‖e‖, so in eq. 7's least squares each outweighs the concept's own row by up to (r/‖e‖)² and the
 * closed form stops erasing the concept itself: on the embedded world (docs/results.md, 50 seeds) the closed form
 * with as-drawn samples left Acc_e above 80% on 6 of 10 classes ("RealEra: + neighbour mining, as drawn" against
 * "… rescaled"). Pass `sampler: { rescale: 'none' }` for the samples as drawn.
 */
const REALERA_SAMPLER_OVERRIDES: Readonly<Pick<RealEraSamplerOptions, 'rescale'>> = { rescale: 'original-norm' };

const KNOWN = ['concepts', 'anchorConcepts', 'preserveConcepts', 'preserveEmptyPrompt', 'stages', 'sampler', 'closedForm', 'lora', 'seed', 'onProgress', 'signal'];
const STAGES = ['mining', 'closedForm', 'lora'];
const SAMPLER = Object.keys(REALERA_SAMPLER_DEFAULTS).filter((key) => key !== 'seed');
const CLOSED_FORM = ['lambda', 'preserveWeight', 'neighbourWeight', 'beyondWeight', 'useMinedSamples', 'projections'];
const LORA = [
  'rank', 'alpha', 'targetModules', 'steps', 'learningRate', 'batchSize', 'microBatchSize', 'eraseWeight', 'neighbourWeight',
  'beyondWeight', 'useMinedSamples', 'anchorImages', 'generationSteps', 'guidanceScale', 'anchorLatents', 'fuse',
];

/**
 * Validates `options` and fills in defaults.
 * @throws InvalidOptionError naming the (dotted) option: unknown keys, empty concepts, anchor count, numbers out of
 *   range, no model-changing stage, sampler options (`sampler.<name>`, as @erase/sampling names them).
 */
export function resolveRealEraOptions(options: RealEraOptions): ResolvedRealEraOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError({ option: 'options', expected: 'an object', received: options });
  checkKnownKeys(options, KNOWN, '', 'realEra()');
  signalOption(options.signal);
  listenerOption('onProgress', options.onProgress);
  const concepts = stringList('concepts', options.concepts, 1);
  const anchorConcepts = pairAnchors('anchorConcepts', stringList('anchorConcepts', options.anchorConcepts ?? [''], 1), concepts.length);
  const preserve = stringList('preserveConcepts', options.preserveConcepts ?? [], 0);
  const preserveEmpty = booleanOption('preserveEmptyPrompt', options.preserveEmptyPrompt ?? true);
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new InvalidOptionError({ option: 'seed', expected: 'a safe integer', received: seed });

  const stagesIn = objectOption('stages', options.stages);
  checkKnownKeys(stagesIn, STAGES, 'stages', 'realEra()');
  const stages = {
    mining: booleanOption('stages.mining', stagesIn.mining ?? true),
    closedForm: booleanOption('stages.closedForm', stagesIn.closedForm ?? true),
    lora: booleanOption('stages.lora', stagesIn.lora ?? true),
  };
  if (!stages.closedForm && !stages.lora) {
    throw new InvalidOptionError({ option: 'stages', expected: 'closedForm and/or lora switched on (mining alone does not change the model)', received: stages });
  }

  const samplerIn = objectOption('sampler', options.sampler);
  if ('rng' in samplerIn || 'seed' in samplerIn) {
    throw new InvalidOptionError({ option: 'sampler.seed', expected: 'no rng/seed inside `sampler` (the top-level `seed` drives every draw)', received: samplerIn });
  }
  checkKnownKeys(samplerIn, SAMPLER, 'sampler', 'realEra()');
  // realEra() rescales mined samples to ‖e‖ unless told otherwise (see REALERA_SAMPLER_OVERRIDES).
  const sampler = resolveSampler({ ...REALERA_SAMPLER_OVERRIDES, ...(samplerIn as RealEraSamplerOptions) });

  const cf = objectOption('closedForm', options.closedForm);
  checkKnownKeys(cf, CLOSED_FORM, 'closedForm', 'realEra()');
  const closedForm = {
    lambda: finiteAtLeast('closedForm.lambda', cf.lambda ?? 0.5),
    preserveWeight: finiteAtLeast('closedForm.preserveWeight', cf.preserveWeight ?? 0.1),
    neighbourWeight: finiteAtLeast('closedForm.neighbourWeight', cf.neighbourWeight ?? 1),
    beyondWeight: finiteAtLeast('closedForm.beyondWeight', cf.beyondWeight ?? 1),
    useMinedSamples: booleanOption('closedForm.useMinedSamples', cf.useMinedSamples ?? true),
    projections: resolveProjections(cf.projections, 'closedForm.projections'),
  };

  const lo = objectOption('lora', options.lora);
  checkKnownKeys(lo, LORA, 'lora', 'realEra()');
  const rank = integerAtLeast('lora.rank', lo.rank ?? 1, 1);
  const batchSize = integerAtLeast('lora.batchSize', lo.batchSize ?? 1, 1);
  const targetModules = stringList('lora.targetModules', lo.targetModules ?? ['attn2.to_k', 'attn2.to_v'], 1);
  if (targetModules.some((t) => t.length === 0)) throw new InvalidOptionError({ option: 'lora.targetModules', expected: 'non-empty module-name suffixes', received: targetModules });
  const lora = {
    rank,
    alpha: positiveNumber('lora.alpha', lo.alpha ?? rank),
    targetModules,
    steps: integerAtLeast('lora.steps', lo.steps ?? 200, 1),
    learningRate: positiveNumber('lora.learningRate', lo.learningRate ?? 1e-5),
    batchSize,
    microBatchSize: Math.min(integerAtLeast('lora.microBatchSize', lo.microBatchSize ?? batchSize, 1), batchSize),
    eraseWeight: finiteAtLeast('lora.eraseWeight', lo.eraseWeight ?? 1),
    neighbourWeight: finiteAtLeast('lora.neighbourWeight', lo.neighbourWeight ?? 1),
    beyondWeight: finiteAtLeast('lora.beyondWeight', lo.beyondWeight ?? 1),
    useMinedSamples: booleanOption('lora.useMinedSamples', lo.useMinedSamples ?? true),
    anchorImages: integerAtLeast('lora.anchorImages', lo.anchorImages ?? 4, 1),
    generationSteps: integerAtLeast('lora.generationSteps', lo.generationSteps ?? 25, 1),
    guidanceScale: lo.guidanceScale === undefined ? undefined : finiteAtLeast('lora.guidanceScale', lo.guidanceScale),
    anchorLatents: lo.anchorLatents === undefined ? ('generated' as const) : ('given' as const),
    fuse: booleanOption('lora.fuse', lo.fuse ?? false),
  };
  return {
    concepts,
    anchorConcepts,
    preservePrompts: preserveEmpty ? ['', ...preserve] : preserve,
    stages,
    sampler,
    closedForm,
    lora,
    seed,
  };
}

/** @erase/sampling's validation, its errors re-named under `sampler.` (see {@link samplerOptionError}). */
function resolveSampler(options: RealEraSamplerOptions): ResolvedRealEraSamplerOptions {
  try {
    return resolveRealEraSamplerOptions(options).resolved;
  } catch (error) {
    throw samplerOptionError(error);
  }
}

/**
 * An InvalidOptionError from the UNet's `attachLora` (which names its own keys: `targetModules`) re-named with the
 * path a caller of realEra() wrote (`lora.targetModules`); any other error unchanged.
 */
export function loraOptionError(error: unknown): unknown {
  if (!InvalidOptionError.isInstance(error) || error.option.startsWith('lora.')) return error;
  const option = error.option === 'lora' ? 'lora (an adapter already attached to the model)' : `lora.${error.option}`;
  const message = error.message.replace(`\`${error.option}\``, `\`${option}\``);
  return new InvalidOptionError({ option, expected: error.expected, received: error.received, message });
}

/**
 * An InvalidOptionError from @erase/sampling (which names its own keys: `cosLow`) re-named with the path a caller of
 * realEra() wrote (`sampler.cosLow`); any other error unchanged.
 */
export function samplerOptionError(error: unknown): unknown {
  if (!InvalidOptionError.isInstance(error)) return error;
  const option = `sampler.${error.option}`;
  const message = error.message.replace(`\`${error.option}\``, `\`${option}\``);
  return new InvalidOptionError({ option, expected: error.expected, received: error.received, message });
}
