/**
 * Calibration of RealEra's samplers for one encoder: acceptance rates and histograms of the cosines and
 * radii of proposals, so a user can choose D1 / D2 (and the band) for their embeddings (methods.md §2).
 *
 * Notation (as in neighbour-mining.ts):
 *   e    [n, D]  erased slice; F = D ('per-token') or n·D ('flattened'); ‖e‖ per perturbed vector
 *   û    [F]     (v − e)/‖v − e‖, v ~ N(0, I_F)
 *   r            neighbour radius r ~ U[0, D1]; beyond radius l ~ U[D1, D2)
 *   cos          cos(e, e + rû); neighbours accepted when cosLow ≤ cos ≤ cosHigh, beyond when cos < cosLow
 * Every proposal is scored and none is kept; the same proposal distribution as {@link mineRealEraConcepts}.
 * Radii are reported in the units of `radiusMode` (multiples of ‖e‖ when 'relative').
 */
import type * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError } from '@erase/core';
import { checkSlice } from './neighbour-mining';
import {
  resolveRealEraSamplerOptions,
  type RadiusMode,
  type RealEraSamplerOptions,
  type ResolvedRealEraSamplerOptions,
} from './options';
import { SummaryAccumulator, cosineAfterStep, drawDirection, toPerturbedVectors, type Summary } from './proposal';

/** Options of {@link calibrateRealEraSampler}: the sampler's options plus two of its own. */
export interface RealEraCalibrationOptions extends RealEraSamplerOptions {
  /** Proposals scored per perturbed vector and per sampler. Default 2000; at most 10^7. */
  attemptsPerVector?: number;
  /** Histogram bins. Default 20; at most 10000. */
  bins?: number;
}

/** Equal-width histogram over [low, high]; counts[i] counts values in [edges[i], edges[i+1]) (last bin closed). */
export interface Histogram {
  readonly low: number;
  readonly high: number;
  /** bins + 1 edges. */
  readonly edges: readonly number[];
  readonly counts: readonly number[];
}

/** Calibration of one sampler (neighbours or beyond). */
export interface SamplerCalibration {
  readonly attempts: number;
  readonly accepted: number;
  /** accepted / attempts. */
  readonly acceptanceRate: number;
  /** cos(e, e + η) over [-1, 1]. */
  readonly cosine: { readonly attempted: Histogram; readonly accepted: Histogram };
  /** Proposal radius in `radiusUnit`, over the sampler's range ([0, D1] or [D1, D2]). */
  readonly radius: { readonly attempted: Histogram; readonly accepted: Histogram };
  readonly acceptedCosine: Summary;
  /** Accepted radii in `radiusUnit`: for neighbours, max tells how far D1 must reach to cover the band. */
  readonly acceptedRadius: Summary;
}

/** Result of {@link calibrateRealEraSampler}. Host values only. */
export interface RealEraCalibration {
  /** Units of every radius reported. */
  readonly radiusUnit: RadiusMode;
  /** ‖e‖ of the perturbed vectors. */
  readonly erasedNorm: Summary;
  readonly neighbours: SamplerCalibration;
  readonly beyond: SamplerCalibration;
  readonly options: ResolvedRealEraSamplerOptions;
}

/**
 * Scores `attemptsPerVector` proposals of each sampler on every perturbed vector of `erased` and returns
 * acceptance rates and histograms. Reads `erased` once; allocates no tensor; disposes nothing.
 *
 * @param erased e, [n, D].
 * @throws ShapeMismatchError for a slice that is not rank 2.
 * @throws InvalidOptionError for a bad option (the sampler's, `attemptsPerVector`, `bins`), an empty slice,
 *   a non-finite value or a zero vector.
 */
export async function calibrateRealEraSampler(
  erased: tf.Tensor,
  options: RealEraCalibrationOptions = {},
): Promise<RealEraCalibration> {
  const { attemptsPerVector = 2000, bins = 20, ...samplerOptions } = options;
  integerIn('attemptsPerVector', attemptsPerVector, 1, 10_000_000);
  integerIn('bins', bins, 1, 10_000);
  const { resolved, rng } = resolveRealEraSamplerOptions(samplerOptions);
  const [n, width] = checkSlice(erased, 'erased slice e');
  const data = await erased.data(); // [n·D]
  const vectors = toPerturbedVectors(data, n, width, resolved.mode, 'erased', true);
  const direction = new Float64Array(vectors[0]!.values.length); // [F] û
  const norms = new SummaryAccumulator();
  for (const vector of vectors) norms.add(vector.norm);

  const neighbourRng = rng.fork();
  const beyondRng = rng.fork();
  const d1 = resolved.neighbourRadius;
  const d2 = resolved.beyondRadius;
  const neighbours = new SamplerHistograms(bins, 0, d1);
  const beyond = new SamplerHistograms(bins, d1, d2);
  for (const vector of vectors) {
    const scale = resolved.radiusMode === 'relative' ? vector.norm : 1;
    for (let t = 0; t < attemptsPerVector; t++) {
      const eDotU = drawDirection(vector, neighbourRng, direction);
      const radius = neighbourRng.uniformIn(0, d1 * scale);
      const cosine = cosineAfterStep(vector.norm, eDotU, radius);
      neighbours.add(cosine, radius / scale, cosine >= resolved.cosLow && cosine <= resolved.cosHigh);
    }
    for (let t = 0; t < attemptsPerVector; t++) {
      const eDotU = drawDirection(vector, beyondRng, direction);
      const radius = beyondRng.uniformIn(d1 * scale, d2 * scale);
      const cosine = cosineAfterStep(vector.norm, eDotU, radius);
      beyond.add(cosine, radius / scale, cosine < resolved.cosLow);
    }
  }
  return {
    radiusUnit: resolved.radiusMode,
    erasedNorm: norms.result(),
    neighbours: neighbours.result(),
    beyond: beyond.result(),
    options: resolved,
  };
}

/** An equal-width histogram accumulator over [low, high] (values outside are clamped into the end bins). */
export class HistogramAccumulator {
  private readonly counts: number[];

  constructor(
    private readonly bins: number,
    private readonly low: number,
    private readonly high: number,
  ) {
    this.counts = new Array<number>(bins).fill(0);
  }

  add(value: number): void {
    if (!Number.isFinite(value)) return;
    const position = this.high > this.low ? (value - this.low) / (this.high - this.low) : 0;
    const bin = Math.min(this.bins - 1, Math.max(0, Math.floor(position * this.bins)));
    this.counts[bin] = (this.counts[bin] as number) + 1;
  }

  result(): Histogram {
    const edges: number[] = [];
    for (let i = 0; i <= this.bins; i++) edges.push(this.low + ((this.high - this.low) * i) / this.bins);
    return { low: this.low, high: this.high, edges, counts: [...this.counts] };
  }
}

class SamplerHistograms {
  private attempts = 0;
  private accepted = 0;
  private readonly cosineAttempted: HistogramAccumulator;
  private readonly cosineAccepted: HistogramAccumulator;
  private readonly radiusAttempted: HistogramAccumulator;
  private readonly radiusAccepted: HistogramAccumulator;
  private readonly acceptedCosine = new SummaryAccumulator();
  private readonly acceptedRadius = new SummaryAccumulator();

  constructor(bins: number, radiusLow: number, radiusHigh: number) {
    this.cosineAttempted = new HistogramAccumulator(bins, -1, 1);
    this.cosineAccepted = new HistogramAccumulator(bins, -1, 1);
    this.radiusAttempted = new HistogramAccumulator(bins, radiusLow, radiusHigh);
    this.radiusAccepted = new HistogramAccumulator(bins, radiusLow, radiusHigh);
  }

  add(cosine: number, radius: number, accepted: boolean): void {
    this.attempts++;
    this.cosineAttempted.add(cosine);
    this.radiusAttempted.add(radius);
    if (!accepted) return;
    this.accepted++;
    this.cosineAccepted.add(cosine);
    this.radiusAccepted.add(radius);
    this.acceptedCosine.add(cosine);
    this.acceptedRadius.add(radius);
  }

  result(): SamplerCalibration {
    return {
      attempts: this.attempts,
      accepted: this.accepted,
      acceptanceRate: this.attempts > 0 ? this.accepted / this.attempts : Number.NaN,
      cosine: { attempted: this.cosineAttempted.result(), accepted: this.cosineAccepted.result() },
      radius: { attempted: this.radiusAttempted.result(), accepted: this.radiusAccepted.result() },
      acceptedCosine: this.acceptedCosine.result(),
      acceptedRadius: this.acceptedRadius.result(),
    };
  }
}

function integerIn(option: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidOptionError({ option, expected: `an integer in [${min}, ${max}]`, received: value });
  }
}
