/**
 * Options of RealEra's neighbour-concept mining and beyond-concept sampling, their defaults and their
 * validation (RealEra paper §4.1–4.2 and Algorithm 1 lines 2–23; methods.md §2).
 *
 * Notation (paper symbol → option name):
 *   e          erased token vector (or the flattened erased slice); ‖e‖ its L2 norm
 *   e*         anchor token vector (or flattened anchor slice); ‖e*‖ its L2 norm
 *   S2, S1     cosine band of neighbours, paper eq. (4)        → `cosLow`, `cosHigh` (we validate cosLow < cosHigh)
 *   D1         neighbour radius, r ~ U[0, D1]                  → `neighbourRadius`
 *   D1'        anchor-partner radius, r' ~ U[0, D1')           → `anchorRadius`
 *   D2         outer beyond radius, l ~ U[D1, D2)              → `beyondRadius`
 *   M, N       accepted neighbours / beyond samples per vector → `numNeighbours`, `numBeyond`
 *
 * Defaults and why (the paper gives none of D1, D1', D2, M, N):
 * - Band [0.3, 0.7]: our reading of "γ1 = 0.3, γ2 = 0.7" (paper §5), methods.md §2.
 * - Radii are relative to the norm of the vector they perturb (`radiusMode: 'relative'`): D1 and D2 are
 *   multiples of ‖e‖, D1' a multiple of ‖e*‖. Because û = (v − e)/‖v − e‖ is biased towards −e, the cosine
 *   cos(e, e + rû) ≈ (‖e‖ + r a)/√(‖e‖² + 2r‖e‖a + r²) with a = ⟨ê, û⟩ ≈ −‖e‖/√(‖e‖² + D). In D = 768 the
 *   band [0.3, 0.7] is reached at r ∈ [0.93, 3.2]·‖e‖ when ‖e‖ ≪ √D and at r ∈ [0.71, 1.1]·‖e‖ when
 *   ‖e‖ ≈ √D ≈ 28 (SD token vectors). D1 = 4 covers the whole band in both regimes; the acceptance rate
 *   is then ≈ 47% (‖e‖ = 1) and ≈ 9% (‖e‖ = 28). D2 = 8 = 2·D1 (beyond points up to 8× the norm of e,
 *   as in the prototype of methods.md §2) gives ≈ 100% beyond acceptance in both regimes.
 * - D1' = 0.5·‖e*‖: a neighbourhood of the anchor clearly smaller than the neighbourhood of e (paper §4.1:
 *   "map to a smaller neighborhood around anchor concept"); cos(e*, e* + η') stays above ≈ 0.85.
 * - M = N = 10: placeholders; the method layer chooses per stage (methods.md §2 asks for a sweep).
 * - `rescale: 'none'`: the paper keeps samples as drawn; 'original-norm' is the option methods.md §2 names.
 */
import { InvalidOptionError, Rng } from '@erase/core';

/** How radii are expressed: multiples of the perturbed vector's norm, or absolute embedding units. */
export type RadiusMode = 'relative' | 'absolute';
/** Perturb every token vector of the slice independently, or the flattened slice as one vector. */
export type PerturbationMode = 'per-token' | 'flattened';
/** Keep accepted samples as drawn, or rescale each to the norm of the vector it perturbs. */
export type RescaleMode = 'none' | 'original-norm';

/** Options of {@link mineRealEraConcepts} and {@link calibrateRealEraSampler}. All are optional. */
export interface RealEraSamplerOptions {
  /** Lower end S2 of the neighbour cosine band; beyond samples need cos < cosLow. Default 0.3. */
  cosLow?: number;
  /** Upper end S1 of the neighbour cosine band. Default 0.7. */
  cosHigh?: number;
  /** Units of `neighbourRadius`, `anchorRadius`, `beyondRadius`. Default 'relative'. */
  radiusMode?: RadiusMode;
  /** D1: neighbour radii r ~ U[0, D1]; beyond radii start at D1. Default 4 (× ‖e‖). */
  neighbourRadius?: number;
  /** D1': anchor-partner radii r' ~ U[0, D1'); relative mode multiplies by ‖e*‖. Default 0.5. */
  anchorRadius?: number;
  /** D2: beyond radii l ~ U[D1, D2). Default 8 (× ‖e‖). */
  beyondRadius?: number;
  /** 'per-token' (default) or 'flattened'. */
  mode?: PerturbationMode;
  /** M: accepted neighbours (and anchor partners) per perturbed vector. Default 10. */
  numNeighbours?: number;
  /** N: accepted beyond samples per perturbed vector. Default 10. */
  numBeyond?: number;
  /** 'none' (default) or 'original-norm'. Rescaling keeps the cosine, so accepted samples stay accepted. */
  rescale?: RescaleMode;
  /** Proposals allowed per perturbed vector and per sampler before `SamplingExhaustedError`. Default 100000. */
  maxAttempts?: number;
  /** Seed of a fresh `Rng` (default 0). Ignored when `rng` is given. */
  seed?: number;
  /** A stream to draw from (it advances); lets a training loop get fresh samples on every call. */
  rng?: Rng;
}

/** The options after defaults and validation (`rng` excluded). */
export interface ResolvedRealEraSamplerOptions {
  readonly cosLow: number;
  readonly cosHigh: number;
  readonly radiusMode: RadiusMode;
  readonly neighbourRadius: number;
  readonly anchorRadius: number;
  readonly beyondRadius: number;
  readonly mode: PerturbationMode;
  readonly numNeighbours: number;
  readonly numBeyond: number;
  readonly rescale: RescaleMode;
  readonly maxAttempts: number;
  readonly seed: number;
}

/** The documented defaults (see the notation block of this file for the reasoning). */
export const REALERA_SAMPLER_DEFAULTS: ResolvedRealEraSamplerOptions = Object.freeze({
  cosLow: 0.3,
  cosHigh: 0.7,
  radiusMode: 'relative',
  neighbourRadius: 4,
  anchorRadius: 0.5,
  beyondRadius: 8,
  mode: 'per-token',
  numNeighbours: 10,
  numBeyond: 10,
  rescale: 'none',
  maxAttempts: 100_000,
  seed: 0,
});

const KNOWN_KEYS = new Set<string>([...Object.keys(REALERA_SAMPLER_DEFAULTS), 'rng']);

/**
 * Applies defaults and validates every option.
 * @param extraKeys option names a caller adds on top (e.g. calibration settings); not reported as unknown.
 * @throws InvalidOptionError naming the option and what was expected (unknown keys included).
 */
export function resolveRealEraSamplerOptions(
  options: RealEraSamplerOptions = {},
  extraKeys: readonly string[] = [],
): { resolved: ResolvedRealEraSamplerOptions; rng: Rng } {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError({ option: 'options', expected: 'an object', received: options });
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.has(key) && !extraKeys.includes(key)) {
      throw new InvalidOptionError({
        option: key,
        expected: `one of ${[...KNOWN_KEYS, ...extraKeys].join(', ')}`,
        received: key,
        message: `Unknown option \`${key}\` for RealEra sampling; known options: ${[...KNOWN_KEYS, ...extraKeys].join(', ')}.`,
      });
    }
  }
  const d = REALERA_SAMPLER_DEFAULTS;
  const cosLow = finiteIn('cosLow', options.cosLow ?? d.cosLow, -1, 1);
  const cosHigh = finiteIn('cosHigh', options.cosHigh ?? d.cosHigh, -1, 1);
  if (!(cosLow < cosHigh)) {
    // blame the end the caller set (cosHigh when only it was given), naming the other end's value
    throw options.cosLow === undefined
      ? new InvalidOptionError({ option: 'cosHigh', expected: `a value above cosLow (${cosLow})`, received: cosHigh })
      : new InvalidOptionError({ option: 'cosLow', expected: `a value below cosHigh (${cosHigh})`, received: cosLow });
  }
  const radiusMode = oneOf('radiusMode', options.radiusMode ?? d.radiusMode, ['relative', 'absolute'] as const);
  const neighbourRadius = positive('neighbourRadius', options.neighbourRadius ?? d.neighbourRadius);
  const anchorRadius = nonNegative('anchorRadius', options.anchorRadius ?? d.anchorRadius);
  const beyondRadius = finiteIn('beyondRadius', options.beyondRadius ?? d.beyondRadius, -Infinity, Infinity);
  if (!(beyondRadius > neighbourRadius)) {
    // blame the radius the caller set (neighbourRadius when only it was given): beyond radii are drawn from [D1, D2)
    throw options.beyondRadius === undefined
      ? new InvalidOptionError({
          option: 'neighbourRadius',
          expected: `a value below beyondRadius (${beyondRadius}; beyond radii are drawn from [D1, D2)), or a larger beyondRadius`,
          received: neighbourRadius,
        })
      : new InvalidOptionError({
          option: 'beyondRadius',
          expected: `a value above neighbourRadius (${neighbourRadius}): beyond radii are drawn from [D1, D2)`,
          received: beyondRadius,
        });
  }
  const mode = oneOf('mode', options.mode ?? d.mode, ['per-token', 'flattened'] as const);
  const numNeighbours = count('numNeighbours', options.numNeighbours ?? d.numNeighbours, 0);
  const numBeyond = count('numBeyond', options.numBeyond ?? d.numBeyond, 0);
  if (numBeyond > 0 && cosLow <= -1) {
    // beyond samples need cos < cosLow: none exists, and rejection sampling would run out of attempts the slow way
    throw new InvalidOptionError({ option: 'cosLow', expected: 'a value above −1 when numBeyond > 0 (beyond samples have cos < cosLow), or numBeyond 0', received: cosLow });
  }
  const rescale = oneOf('rescale', options.rescale ?? d.rescale, ['none', 'original-norm'] as const);
  const maxAttempts = count('maxAttempts', options.maxAttempts ?? d.maxAttempts, 1);
  const seed = options.seed ?? d.seed;
  if (!Number.isSafeInteger(seed)) {
    throw new InvalidOptionError({ option: 'seed', expected: 'a safe integer', received: seed });
  }
  if (options.rng !== undefined && !isRng(options.rng)) {
    throw new InvalidOptionError({ option: 'rng', expected: 'an Rng from @erase/core', received: options.rng });
  }
  const resolved: ResolvedRealEraSamplerOptions = {
    cosLow,
    cosHigh,
    radiusMode,
    neighbourRadius,
    anchorRadius,
    beyondRadius,
    mode,
    numNeighbours,
    numBeyond,
    rescale,
    maxAttempts,
    seed,
  };
  return { resolved, rng: options.rng ?? new Rng(seed) };
}

function isRng(value: unknown): value is Rng {
  const candidate = value as Partial<Rng> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.normal === 'function' &&
    typeof candidate.uniform === 'function' &&
    typeof candidate.fork === 'function'
  );
}

function finiteIn(option: string, value: unknown, low: number, high: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < low || value > high) {
    const range = Number.isFinite(low) ? ` in [${low}, ${high}]` : '';
    throw new InvalidOptionError({ option, expected: `a finite number${range}`, received: value });
  }
  return value;
}

function positive(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidOptionError({ option, expected: 'a finite number > 0', received: value });
  }
  return value;
}

function nonNegative(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidOptionError({ option, expected: 'a finite number >= 0', received: value });
  }
  return value;
}

function count(option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidOptionError({ option, expected: `an integer >= ${min}`, received: value });
  }
  return value;
}

function oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidOptionError({ option, expected: `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, received: value });
  }
  return value as T;
}
