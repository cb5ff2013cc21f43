/**
 * RealEra neighbour-concept mining and beyond-concept sampling (paper §4.1–4.2, Algorithm 1 lines 2–23;
 * methods.md §2). Host-side float64 rejection sampling; tensors only at the boundary.
 *
 * Notation (paper → code):
 *   n, D         tokens in the erased slice (concept token and its subsequent tokens), token width (768 in SD 1.x)
 *   e    [n, D]  erased slice                                     → `erased`
 *   e*   [n, D]  anchor slice, aligned token by token             → `anchor`
 *   F            length of a perturbed vector: D ('per-token') or n·D ('flattened')
 *   û    [F]     (v − e)/‖v − e‖, v ~ N(0, I_F)                    → `direction`
 *   r, r', l     r ~ U[0, D1], r' ~ U[0, D1'), l ~ U[D1, D2)       → `neighbourRadius`, `anchorRadius`, `beyondRadius`
 *   S2, S1       cosine band                                       → `cosLow`, `cosHigh`
 *   E  ∪= e + rû        neighbours (lines 4–12), accepted when S2 ≤ cos(e, e + rû) ≤ S1   → `neighbours` [M, n, D]
 *   E* ∪= e* + r'û      their anchor partners (line 8), same û                           → `anchorPartners` [M, n, D]
 *   Pre ∪= e + lû       beyond-concept samples (lines 13–22), accepted when cos < S2      → `beyond` [N, n, D]
 *
 * Readings where the paper is ambiguous (all documented in methods.md §2):
 * - Algorithm 1 line 21 has a `break` inside the beyond loop, which would stop after one proposal; we read
 *   "repeat until N accepted", as the text of §4.2 and methods.md do.
 * - 'per-token': every token vector of the slice gets its own û, r and acceptance test; neighbour m of the
 *   slice is row-wise (e_j + r_{m,j} û_{m,j})_j. 'flattened': one û, r and test on the flattened slice.
 * - The random stream: `rng` is forked twice at the start (neighbours, then beyond), so the beyond samples do
 *   not depend on M. Each proposal draws F normals then one radius; an accepted neighbour then draws r'.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, SamplingExhaustedError, ShapeMismatchError, type Rng } from '@erase/core';
import {
  resolveRealEraSamplerOptions,
  type RealEraSamplerOptions,
  type ResolvedRealEraSamplerOptions,
} from './options';
import {
  SummaryAccumulator,
  cosineAfterStep,
  drawDirection,
  perturbedNorm,
  toPerturbedVectors,
  type PerturbedVector,
  type Summary,
} from './proposal';

/** Largest output tensor we agree to allocate (elements); larger requests are an option error, not an OOM. */
const MAX_OUTPUT_ELEMENTS = 2 ** 27;

/** Statistics of one sampler (neighbours or beyond) over all perturbed vectors. */
export interface RealEraSamplerStats {
  /** Perturbed vectors: n ('per-token') or 1 ('flattened'). */
  readonly vectors: number;
  /** Accepted samples wanted per vector (M or N). */
  readonly wantedPerVector: number;
  /** Proposals drawn, all vectors together. */
  readonly attempts: number;
  /** Proposals accepted (= vectors × wantedPerVector). */
  readonly accepted: number;
  /** accepted / attempts; NaN when nothing was wanted. */
  readonly acceptanceRate: number;
  /** Proposals drawn per vector. */
  readonly attemptsPerVector: readonly number[];
  /** Proposals rejected because cos(e, e + η) was above the accepted range (> cosHigh, or ≥ cosLow for beyond). */
  readonly rejectedHigh: number;
  /** Proposals rejected because cos(e, e + η) was below cosLow (neighbours only; 0 for beyond). */
  readonly rejectedLow: number;
  /** cos(e, e + η) of accepted samples. */
  readonly cosine: Summary;
  /** Radius ‖η‖ of accepted samples, absolute units. */
  readonly radius: Summary;
  /** Radius ‖η‖ / ‖e‖ of accepted samples. */
  readonly relativeRadius: Summary;
}

/** Statistics of {@link mineRealEraConcepts}. */
export interface RealEraSamplingStats {
  readonly neighbours: RealEraSamplerStats & {
    /** Radius ‖η'‖ of the anchor partners, absolute units. */
    readonly anchorRadius: Summary;
  };
  readonly beyond: RealEraSamplerStats;
  /** The options used, defaults filled in (`seed` is meaningless when an `rng` was passed). */
  readonly options: ResolvedRealEraSamplerOptions;
}

/** Result of {@link mineRealEraConcepts}. The caller owns (and disposes) the three tensors. */
export interface RealEraSamples {
  /** e + η, float32 [M, n, D] (rescaled to ‖e‖ per vector when `rescale: 'original-norm'`). */
  readonly neighbours: tf.Tensor3D;
  /** e* + η', float32 [M, n, D]; row m is the partner of neighbour m (same û). */
  readonly anchorPartners: tf.Tensor3D;
  /** e + η beyond the band, float32 [N, n, D]. */
  readonly beyond: tf.Tensor3D;
  readonly stats: RealEraSamplingStats;
}

/**
 * Mines M neighbours of the erased slice (with their anchor partners) and N beyond-concept samples
 * (RealEra Algorithm 1 lines 2–23). Inputs are read once to the host; nothing is disposed.
 *
 * @param erased e, [n, D] (any numeric dtype): the erased concept token and its subsequent tokens.
 * @param anchor e*, [n, D], aligned token by token with `erased`.
 * @returns float32 tensors [M, n, D], [M, n, D], [N, n, D] owned by the caller, plus statistics.
 * @throws ShapeMismatchError when a slice is not rank 2 or the shapes differ.
 * @throws InvalidOptionError for a bad option, an empty slice, a non-finite value, a zero erased vector,
 *   or an output above 2^27 elements.
 * @throws SamplingExhaustedError when a vector needs more than `maxAttempts` proposals; the message reports
 *   the acceptance rate and which option to change.
 */
export async function mineRealEraConcepts(
  erased: tf.Tensor,
  anchor: tf.Tensor,
  options: RealEraSamplerOptions = {},
): Promise<RealEraSamples> {
  const { resolved, rng } = resolveRealEraSamplerOptions(options);
  const [n, width] = checkSlice(erased, 'erased slice e');
  if (anchor.rank !== 2 || anchor.shape[0] !== n || anchor.shape[1] !== width) {
    throw new ShapeMismatchError({ what: 'anchor slice e* (aligned with the erased slice)', expected: [n, width], received: anchor.shape });
  }
  const { numNeighbours: m, numBeyond: beyondCount } = resolved;
  for (const [option, wanted] of [['numNeighbours', m], ['numBeyond', beyondCount]] as const) {
    if (wanted * n * width > MAX_OUTPUT_ELEMENTS) {
      throw new InvalidOptionError({
        option,
        expected: `at most ${Math.floor(MAX_OUTPUT_ELEMENTS / (n * width))} samples for a [${n}, ${width}] slice`,
        received: wanted,
      });
    }
  }
  const erasedData = await erased.data(); // [n·D]
  const anchorData = await anchor.data(); // [n·D]
  const vectors = toPerturbedVectors(erasedData, n, width, resolved.mode, 'erased', true);
  const anchors = toPerturbedVectors(anchorData, n, width, resolved.mode, 'anchor', false);

  const neighbourRng = rng.fork();
  const beyondRng = rng.fork();
  const vectorLength = vectors[0]!.values.length; // F
  const direction = new Float64Array(vectorLength); // [F] û
  const relative = resolved.radiusMode === 'relative';

  // Neighbours and anchor partners (Algorithm 1 lines 4–12).
  const neighbourData = new Float32Array(m * n * width); // [M, n, D]
  const partnerData = new Float32Array(m * n * width); // [M, n, D]
  const neighbourTally = new Tally();
  const anchorRadius = new SummaryAccumulator();
  vectors.forEach((vector, j) => {
    const anchorVector = anchors[j]!;
    const scale = relative ? vector.norm : 1;
    const partnerScale = relative ? anchorVector.norm : 1;
    runSampler({
      kind: 'neighbours',
      label: vectorLabel(resolved, j, vectors.length),
      vector,
      rng: neighbourRng,
      radiusLow: 0,
      radiusHigh: resolved.neighbourRadius * scale,
      wanted: m,
      options: resolved,
      direction,
      tally: neighbourTally,
      onAccept: (index, radius, eDotU) => {
        const offset = (index * vectors.length + j) * vectorLength; // into [M, n, D]
        writeStep(neighbourData, offset, vector, direction, radius, eDotU, resolved.rescale === 'original-norm');
        const partnerRadius = neighbourRng.uniformIn(0, resolved.anchorRadius * partnerScale); // r' ~ U[0, D1')
        anchorRadius.add(partnerRadius);
        writeStep(partnerData, offset, anchorVector, direction, partnerRadius, dot(anchorVector.values, direction), resolved.rescale === 'original-norm');
      },
    });
  });

  // Beyond-concept samples (Algorithm 1 lines 13–22).
  const beyondData = new Float32Array(beyondCount * n * width); // [N, n, D]
  const beyondTally = new Tally();
  vectors.forEach((vector, j) => {
    const scale = relative ? vector.norm : 1;
    runSampler({
      kind: 'beyond',
      label: vectorLabel(resolved, j, vectors.length),
      vector,
      rng: beyondRng,
      radiusLow: resolved.neighbourRadius * scale,
      radiusHigh: resolved.beyondRadius * scale,
      wanted: beyondCount,
      options: resolved,
      direction,
      tally: beyondTally,
      onAccept: (index, radius, eDotU) => {
        const offset = (index * vectors.length + j) * vectorLength; // into [N, n, D]
        writeStep(beyondData, offset, vector, direction, radius, eDotU, resolved.rescale === 'original-norm');
      },
    });
  });

  return {
    neighbours: tf.tensor3d(neighbourData, [m, n, width], 'float32'), // [M, n, D]
    anchorPartners: tf.tensor3d(partnerData, [m, n, width], 'float32'), // [M, n, D]
    beyond: tf.tensor3d(beyondData, [beyondCount, n, width], 'float32'), // [N, n, D]
    stats: {
      neighbours: { ...neighbourTally.result(vectors.length, m), anchorRadius: anchorRadius.result() },
      beyond: beyondTally.result(vectors.length, beyondCount),
      options: resolved,
    },
  };
}

/**
 * Validates an [n, D] slice and returns its shape.
 * @throws ShapeMismatchError for another rank; InvalidOptionError for an empty slice.
 */
export function checkSlice(slice: tf.Tensor, what: string): [number, number] {
  if (typeof slice !== 'object' || slice === null || !Array.isArray((slice as { shape?: unknown }).shape)) {
    throw new InvalidOptionError({ option: what, expected: 'a tf.Tensor of shape [n, D]', received: slice });
  }
  if (slice.rank !== 2) throw new ShapeMismatchError({ what, expected: [null, null], received: slice.shape });
  const [n, width] = slice.shape as [number, number];
  if (n < 1 || width < 1) {
    throw new InvalidOptionError({ option: what, expected: 'a non-empty [n, D] slice', received: `shape [${n}, ${width}]` });
  }
  return [n, width];
}

function vectorLabel(options: ResolvedRealEraSamplerOptions, j: number, count: number): string {
  return options.mode === 'per-token' ? `token ${j} of ${count}` : 'flattened slice';
}

/** Writes scale·(x + r·û) at `offset`; with `rescale` the scale maps ‖x + r·û‖ back to ‖x‖. */
function writeStep(
  out: Float32Array,
  offset: number,
  vector: PerturbedVector,
  direction: Float64Array,
  radius: number,
  xDotU: number,
  rescale: boolean,
): void {
  const moved = perturbedNorm(vector.norm, xDotU, radius);
  const scale = rescale && moved > 0 ? vector.norm / moved : 1;
  const x = vector.values; // [F]
  for (let k = 0; k < x.length; k++) out[offset + k] = scale * ((x[k] as number) + radius * (direction[k] as number));
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let k = 0; k < a.length; k++) sum += (a[k] as number) * (b[k] as number);
  return sum;
}

interface SamplerArgs {
  kind: 'neighbours' | 'beyond';
  label: string;
  vector: PerturbedVector;
  rng: Rng;
  radiusLow: number;
  radiusHigh: number;
  wanted: number;
  options: ResolvedRealEraSamplerOptions;
  direction: Float64Array;
  tally: Tally;
  onAccept: (index: number, radius: number, eDotU: number) => void;
}

/** Proposes until `wanted` are accepted or `maxAttempts` is spent (then throws). */
function runSampler(args: SamplerArgs): void {
  const { vector, rng, options, tally } = args;
  let accepted = 0;
  let attempts = 0;
  let rejectedHigh = 0;
  let rejectedLow = 0;
  while (accepted < args.wanted) {
    if (attempts >= options.maxAttempts) {
      tally.addVector(attempts, rejectedHigh, rejectedLow);
      throw new SamplingExhaustedError({
        what: `RealEra ${args.kind === 'neighbours' ? 'neighbour mining' : 'beyond-concept sampling'} (${args.label})`,
        accepted,
        wanted: args.wanted,
        attempts,
        hint: exhaustionHint(args, rejectedHigh, rejectedLow),
      });
    }
    attempts++;
    const eDotU = drawDirection(vector, rng, args.direction); // û into direction [F]
    const radius = rng.uniformIn(args.radiusLow, args.radiusHigh);
    const cosine = cosineAfterStep(vector.norm, eDotU, radius);
    let ok: boolean;
    if (args.kind === 'neighbours') {
      ok = cosine >= options.cosLow && cosine <= options.cosHigh;
      if (cosine > options.cosHigh) rejectedHigh++;
      else if (cosine < options.cosLow) rejectedLow++;
    } else {
      ok = cosine < options.cosLow;
      if (cosine >= options.cosLow) rejectedHigh++;
    }
    if (!ok) continue;
    tally.addAccepted(cosine, radius, radius / vector.norm);
    args.onAccept(accepted, radius, eDotU);
    accepted++;
  }
  tally.addVector(attempts, rejectedHigh, rejectedLow);
}

function exhaustionHint(args: SamplerArgs, rejectedHigh: number, rejectedLow: number): string {
  const o = args.options;
  const unit = o.radiusMode === 'relative' ? '× ‖e‖' : '(absolute)';
  const tail =
    ` Or raise \`maxAttempts\` (now ${o.maxAttempts}). calibrateRealEraSampler() shows the cosines and radii ` +
    `of proposals for this embedding.`;
  if (args.kind === 'beyond') {
    return (
      `${rejectedHigh} proposals had cos(e, e + η) ≥ cosLow (${o.cosLow}): raise \`beyondRadius\` (D2, now ` +
      `${o.beyondRadius} ${unit}) and/or \`neighbourRadius\` (D1, now ${o.neighbourRadius} ${unit}), or raise \`cosLow\`.` +
      tail
    );
  }
  if (rejectedHigh >= rejectedLow) {
    return (
      `${rejectedHigh} proposals had cos(e, e + η) above cosHigh (${o.cosHigh}) and ${rejectedLow} below cosLow ` +
      `(${o.cosLow}): the radii are too short; raise \`neighbourRadius\` (D1, now ${o.neighbourRadius} ${unit}) ` +
      `or raise \`cosHigh\`.` +
      tail
    );
  }
  return (
    `${rejectedLow} proposals had cos(e, e + η) below cosLow (${o.cosLow}) and ${rejectedHigh} above cosHigh ` +
    `(${o.cosHigh}): the radii are too long; lower \`neighbourRadius\` (D1, now ${o.neighbourRadius} ${unit}) ` +
    `or lower \`cosLow\`.` +
    tail
  );
}

/** Accumulates the statistics of one sampler across vectors. */
class Tally {
  private readonly attemptsPerVector: number[] = [];
  private rejectedHigh = 0;
  private rejectedLow = 0;
  private readonly cosine = new SummaryAccumulator();
  private readonly radius = new SummaryAccumulator();
  private readonly relativeRadius = new SummaryAccumulator();

  addAccepted(cosine: number, radius: number, relativeRadius: number): void {
    this.cosine.add(cosine);
    this.radius.add(radius);
    this.relativeRadius.add(relativeRadius);
  }

  addVector(attempts: number, rejectedHigh: number, rejectedLow: number): void {
    this.attemptsPerVector.push(attempts);
    this.rejectedHigh += rejectedHigh;
    this.rejectedLow += rejectedLow;
  }

  result(vectors: number, wantedPerVector: number): RealEraSamplerStats {
    const attempts = this.attemptsPerVector.reduce((a, b) => a + b, 0);
    const accepted = vectors * wantedPerVector;
    return {
      vectors,
      wantedPerVector,
      attempts,
      accepted,
      acceptanceRate: attempts > 0 ? accepted / attempts : Number.NaN,
      attemptsPerVector: [...this.attemptsPerVector],
      rejectedHigh: this.rejectedHigh,
      rejectedLow: this.rejectedLow,
      cosine: this.cosine.result(),
      radius: this.radius.result(),
      relativeRadius: this.relativeRadius.result(),
    };
  }
}
