/**
 * RealEra (Liu et al., "RealEra: Semantic-level Concept Erasure via Neighbor-Concept Mining", Algorithm 1;
 * methods.md §1–3) on any `DiffusionModel`:
 *   (a) neighbour-concept mining + beyond-concept samples around each concept's erased slice   mining-stage.ts
 *   (b) closed-form alignment of every attn2 to_k/to_v (eq. 7, with a ridge)                    closed-form-stage.ts
 *   (c) LoRA prediction-noise alignment (eqs. 8–9), fresh samples at every step                noise-alignment.ts
 * Order of work: encode prompts → (a) → generate anchor latents with the *original* model → (b) → (c).
 * The model is changed in place: θ' written into its sites, the LoRA adapter left attached (or fused).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  InvalidOptionError,
  Rng,
  ShapeMismatchError,
  UnsupportedError,
  ensureGradients,
  reportProgress,
  throwIfAborted,
  type DiffusionModel,
  type LoraAdapter,
} from '@erase/core';
import type { RealEraSamplingStats } from '@erase/sampling';
import { projectionParameterNames, type ErasureResultBase } from '../shared/erasure-result';
import { copyLoraWeights, type LoraWeightCopies } from '../shared/lora-weights';
import { encodePromptTable, encodedPrompt } from '../shared/prompt-encoding';
import { disposeWeights, readProjections, writeProjections, type ProjectionWeights } from '../shared/site-weights';
import { generateAnchorLatents } from './anchor-latents';
import { realEraClosedForm, type RealEraClosedFormStatistics } from './closed-form-stage';
import { conceptSlices } from './concept-slices';
import { mineConcept, type MinedSamples } from './mining-stage';
import { alignPredictionNoise, type RealEraLoraStatistics } from './noise-alignment';
import { loraOptionError, resolveRealEraOptions, type RealEraOptions, type ResolvedRealEraOptions } from './options';
import { OriginalModelView } from './original-model';

/** Per-concept mining statistics. */
export interface RealEraMiningStatistics {
  readonly prompt: string;
  /** L, rows of the erased slice. */
  readonly rows: number;
  readonly sampling: RealEraSamplingStats;
}

/** Statistics of each stage that ran. */
export interface RealEraStatistics {
  readonly mining?: readonly RealEraMiningStatistics[];
  readonly closedForm?: RealEraClosedFormStatistics;
  readonly lora?: RealEraLoraStatistics;
}

/** The trained LoRA. */
export interface RealEraLora {
  /** The adapter, attached to the model; undefined after `fuse` (then its update is in the base weights). */
  readonly adapter: LoraAdapter | undefined;
  /** Host copies of the factors (module path → A [r, in], B [out, r], α), the canonical map of @erase/sd's writers. */
  readonly weights: LoraWeightCopies;
  readonly fused: boolean;
}

/** Result of `realEra()`. The caller owns `weights` (call `dispose()`); the adapter belongs to the model. */
export interface RealEraResult extends ErasureResultBase {
  readonly method: 'realera';
  /** θ': the closed-form projections keyed `${site.path}.to_k` / `.to_v`, float32 [out, in] (empty without stage b). */
  readonly weights: ProjectionWeights;
  readonly lora: RealEraLora | undefined;
  readonly options: ResolvedRealEraOptions;
  readonly statistics: RealEraStatistics;
  /** Disposes `weights` (not the adapter: detach it, or dispose the model). */
  dispose(): void;
}

/**
 * Erases `options.concepts` from `model` with RealEra. An error or abort restores the model's projections and
 * detaches the adapter. Progress stages: `realera.encode`, `realera.mining`, `realera.anchor-latents`,
 * `closed-form.edit` (core), `realera.lora`.
 * @throws InvalidOptionError for bad options; ShapeMismatchError for `lora.anchorLatents` of the wrong shape;
 *   UnsupportedError for a model without cross-attention sites (closed form); SamplingExhaustedError when mining
 *   cannot accept samples; NotPositiveDefiniteError for λ = 0 with too few keys; AbortedError on abort.
 */
export async function realEra(model: DiffusionModel, options: RealEraOptions): Promise<RealEraResult> {
  const resolved = resolveRealEraOptions(options);
  const { stages } = resolved;
  const givenLatents = options.lora?.anchorLatents;
  if (stages.lora && givenLatents !== undefined) checkLatents(givenLatents, model.latentShape);
  const sites = model.unet.crossAttentionSites();
  if (stages.closedForm && sites.length === 0) throw new UnsupportedError(`${model.source}: the noise predictor has no cross-attention sites for RealEra's closed form.`);
  if (stages.lora) await ensureGradients();
  const run = { onProgress: options.onProgress, signal: options.signal };
  const rng = new Rng(resolved.seed);
  const miningRng = rng.fork();
  const loraRng = rng.fork();
  const generationSeed = rng.nextUint32();
  const loraSeed = rng.nextUint32();

  // The LoRA's targets are checked now, not after mining, generation and the closed form (minutes on SD): a trial
  // attach, detached at once, with its errors named under `lora.`.
  if (stages.lora) {
    const { rank, alpha, targetModules } = resolved.lora;
    try {
      model.unet.attachLora({ rank, alpha, targetModules, seed: loraSeed }).detach();
    } catch (error) {
      throw loraOptionError(error);
    }
  }

  const table = await encodePromptTable(model.textEncoder, [...resolved.concepts, ...resolved.anchorConcepts, ...resolved.preservePrompts], { signal: options.signal });
  reportProgress(options.onProgress, { stage: 'realera.encode', step: 1, total: 1, message: `${table.prompts.size} prompts` });
  const concepts = conceptSlices(table, resolved.concepts, resolved.anchorConcepts);

  // (a) Algorithm 1 lines 2–23.
  const mined: (MinedSamples | undefined)[] = [];
  if (stages.mining) {
    for (const [k, concept] of concepts.entries()) {
      throwIfAborted(options.signal, 'realEra');
      mined.push(await mineConcept(concept, table.width, resolved.sampler, miningRng));
      const stats = mined[k]?.stats;
      reportProgress(options.onProgress, {
        stage: 'realera.mining',
        step: k + 1,
        total: concepts.length,
        message: concept.prompt,
        metrics: { neighbourAcceptance: stats?.neighbours.acceptanceRate ?? Number.NaN, beyondAcceptance: stats?.beyond.acceptanceRate ?? Number.NaN },
      });
    }
  }

  const generated = new Map<string, tf.Tensor4D>();
  let original: ProjectionWeights | undefined;
  let edited: ProjectionWeights | undefined;
  let adapter: LoraAdapter | undefined;
  const statistics: { mining?: RealEraMiningStatistics[]; closedForm?: RealEraClosedFormStatistics; lora?: RealEraLoraStatistics } = {};
  if (stages.mining) statistics.mining = concepts.map((c, k) => ({ prompt: c.prompt, rows: c.rows, sampling: (mined[k] as MinedSamples).stats }));
  try {
    // Anchor latents come from the original model, before any edit.
    const anchorLatents: tf.Tensor4D[] = [];
    if (stages.lora) {
      for (const concept of concepts) {
        if (givenLatents) {
          anchorLatents.push(givenLatents);
          continue;
        }
        if (!generated.has(concept.anchor)) {
          generated.set(concept.anchor, await generateAnchorLatents(model, concept.anchor, {
            count: resolved.lora.anchorImages,
            steps: resolved.lora.generationSteps,
            guidanceScale: resolved.lora.guidanceScale ?? model.defaultGuidanceScale,
            seed: generationSeed,
            ...run,
          }));
        }
        anchorLatents.push(generated.get(concept.anchor) as tf.Tensor4D);
      }
    }

    // (b) Algorithm 1 line 24.
    const projections = resolved.closedForm.projections;
    if (stages.closedForm) {
      original = readProjections(sites, projections);
      const preserve = resolved.preservePrompts.map((p) => encodedPrompt(table, p).hidden); // [T, D] each
      statistics.closedForm = await realEraClosedForm(sites, concepts, mined, preserve, table.width, resolved.closedForm, run);
      edited = readProjections(sites, projections);
    }

    // (c) Algorithm 1 lines 25–30.
    let lora: RealEraLora | undefined;
    if (stages.lora) {
      const { rank, alpha, targetModules } = resolved.lora;
      adapter = model.unet.attachLora({ rank, alpha, targetModules, seed: loraSeed });
      const reference = new OriginalModelView(model.unet, sites, projections, original && edited ? { original, edited } : undefined, adapter);
      const useMined = stages.mining && resolved.lora.useMinedSamples;
      statistics.lora = await alignPredictionNoise(
        { model, concepts, anchorLatents, reference, adapter, options: resolved.lora, sampler: useMined ? resolved.sampler : undefined, rng: loraRng, length: table.length, width: table.width },
        run,
      );
      const weights = copyLoraWeights(adapter);
      if (resolved.lora.fuse) adapter.fuse();
      lora = { adapter: resolved.lora.fuse ? undefined : adapter, weights, fused: resolved.lora.fuse };
    }
    const weights = edited ?? new Map();
    const changed = projectionParameterNames(weights.keys());
    if (lora?.fused) for (const path of lora.weights.keys()) if (!changed.includes(`${path}.weight`)) changed.push(`${path}.weight`);
    return { method: 'realera', weights, lora, options: resolved, statistics, changedParameters: changed, dispose: () => disposeWeights(weights) };
  } catch (error) {
    adapter?.detach();
    if (original) writeProjections(sites, resolved.closedForm.projections, original);
    if (edited) disposeWeights(edited);
    throw error;
  } finally {
    if (original) disposeWeights(original);
    for (const latents of generated.values()) latents.dispose();
  }
}

function checkLatents(latents: tf.Tensor4D, shape: readonly [number, number, number]): void {
  if (typeof latents !== 'object' || latents === null || !Array.isArray((latents as { shape?: unknown }).shape)) {
    throw new InvalidOptionError({ option: 'lora.anchorLatents', expected: 'a float32 tf.Tensor4D [n, h, w, C]', received: latents });
  }
  if (latents.rank !== 4 || latents.shape[0] < 1 || latents.shape[1] !== shape[0] || latents.shape[2] !== shape[1] || latents.shape[3] !== shape[2]) {
    throw new ShapeMismatchError({ what: 'lora.anchorLatents [n, h, w, C]', expected: [null, ...shape], received: latents.shape });
  }
  if (latents.dtype !== 'float32') throw new InvalidOptionError({ option: 'lora.anchorLatents', expected: 'a float32 tensor', received: latents.dtype });
}
