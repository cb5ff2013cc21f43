/**
 * Options of `esd()`, their defaults and validation (Gandikota et al., "Erasing Concepts from Diffusion Models",
 * ICCV 2023; methods.md §5). Defaults are the official 2023 script's (`train-scripts/train-esd.py`, as vendored in
 * the Adversarial Preservation repository):
 *
 *   option              default   official
 *   variant             'x'       `--train_method` (required there): 'xattn' = 'x', 'noxattn' = 'u'
 *   iterations          1000      `--iterations 1000`
 *   learningRate        1e-5      `--lr 1e-5`, Adam (β 0.9/0.999, ε 1e-8 as torch)
 *   negativeGuidance    1         `--negative_guidance 1` (η)
 *   guidanceScale       3         `--start_guidance 3` (CFG of the partial sampling)
 *   samplingSteps       50        `--ddim_steps 50` (S; t_enc ~ U{0..S−1})
 *   seed                0         (torch's global RNG there)
 * Several concepts (`--seperator`): the official script draws one at random per iteration; we cycle through them
 * (iteration s uses concept s mod K), so each gets the same number of updates.
 */
import { InvalidOptionError, type LongRunningOptions } from '@erase/core';
import { checkKnownKeys, finiteAtLeast, integerAtLeast, listenerOption, oneOf, positiveNumber, signalOption, stringList } from '../shared/validate';
import type { EsdVariant } from './parameter-selection';

/** Options of `esd()`. Only `concepts` is required. */
export interface EsdOptions extends LongRunningOptions {
  /** Prompts of the concepts to erase (each used as both c and the sampling prompt, as the official code). */
  readonly concepts: readonly string[];
  /** `'x'`: train cross-attention (`attn2`); `'u'`: everything except attn2, time embedding and output layers. Default 'x'. */
  readonly variant?: EsdVariant;
  /** Optimizer steps. Default 1000. */
  readonly iterations?: number;
  /** Adam learning rate. Default 1e-5. */
  readonly learningRate?: number;
  /** η ≥ 0. Default 1. */
  readonly negativeGuidance?: number;
  /** CFG scale g of the partial DDIM sampling. Default 3. */
  readonly guidanceScale?: number;
  /** S, DDIM steps of the partial sampling. Default 50. */
  readonly samplingSteps?: number;
  /** Seed of every draw (t_enc, t, start noise). Default 0. */
  readonly seed?: number;
}

/** Options after defaults and validation (JSON-serialisable). */
export interface ResolvedEsdOptions {
  readonly concepts: readonly string[];
  readonly variant: EsdVariant;
  readonly iterations: number;
  readonly learningRate: number;
  readonly negativeGuidance: number;
  readonly guidanceScale: number;
  readonly samplingSteps: number;
  readonly seed: number;
}

/** The defaults table above, as data. */
export const ESD_DEFAULTS: Readonly<Omit<ResolvedEsdOptions, 'concepts'>> = Object.freeze({
  variant: 'x',
  iterations: 1000,
  learningRate: 1e-5,
  negativeGuidance: 1,
  guidanceScale: 3,
  samplingSteps: 50,
  seed: 0,
});

const KNOWN = ['concepts', 'variant', 'iterations', 'learningRate', 'negativeGuidance', 'guidanceScale', 'samplingSteps', 'seed', 'onProgress', 'signal'];

/**
 * Validates `options` and fills in defaults. (`samplingSteps` is checked against the model's T by `esd()`.)
 * @throws InvalidOptionError naming the option: unknown keys, no concepts, numbers out of range, a bad variant.
 */
export function resolveEsdOptions(options: EsdOptions): ResolvedEsdOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError({ option: 'options', expected: 'an object', received: options });
  checkKnownKeys(options, KNOWN, '', 'esd()');
  signalOption(options.signal);
  listenerOption('onProgress', options.onProgress);
  const concepts = stringList('concepts', options.concepts, 1);
  const seed = options.seed ?? ESD_DEFAULTS.seed;
  if (!Number.isSafeInteger(seed)) throw new InvalidOptionError({ option: 'seed', expected: 'a safe integer', received: seed });
  return {
    concepts,
    variant: oneOf('variant', options.variant ?? ESD_DEFAULTS.variant, ['x', 'u'] as const),
    iterations: integerAtLeast('iterations', options.iterations ?? ESD_DEFAULTS.iterations, 1),
    learningRate: positiveNumber('learningRate', options.learningRate ?? ESD_DEFAULTS.learningRate),
    negativeGuidance: finiteAtLeast('negativeGuidance', options.negativeGuidance ?? ESD_DEFAULTS.negativeGuidance),
    guidanceScale: finiteAtLeast('guidanceScale', options.guidanceScale ?? ESD_DEFAULTS.guidanceScale),
    samplingSteps: integerAtLeast('samplingSteps', options.samplingSteps ?? ESD_DEFAULTS.samplingSteps, 1),
    seed,
  };
}
