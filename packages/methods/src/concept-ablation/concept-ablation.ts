/**
 * Concept Ablation, model-based variant (Kumari et al., "Ablating Concepts in Text-to-Image Diffusion Models",
 * ICCV 2023, §3 eq. 3 ("model-based"); methods.md §5; official `diffusers/train.py` with
 * `--loss_type_reverse model-based`) on any `DiffusionModel`. The model is changed in place.
 *
 * Notation (this project's letters: c = the concept to ablate, c* = its anchor):
 *   x0                anchor latents: images the *original* model generates from the anchor prompt c*   [n, h, w, C]
 *   x_t               √ᾱ_t x0 + √(1 − ᾱ_t) ε,  ε ~ N(0, I),  t ~ U{0, …, T_train − 1} per batch item (DDPM forward)
 *   ε_θ(x_t, c, t)    the model being trained, prompt c ("model_pred" in the official code)
 *   sg[ε_θ(x_t, c*, t)]  the *same, current* model on the anchor prompt, without gradient ("model_pred_anchor",
 *                     computed under `torch.no_grad()` with the UNet as it is at that step — not a frozen copy)
 *   L = mean over batch and elements of (ε_θ(x_t, c, t) − sg[ε_θ(x_t, c*, t)])²   (core's conceptAblationLoss)
 * Direction: the erased prompt's prediction is pulled onto the anchor's (p(x | c) → p(x | c*)), as the official code
 * does; methods.md §5 writes the two prompts the other way round (the paper calls the ablated concept "target").
 * One step: B items drawn without replacement from the union of every concept's anchor latents (a reshuffled epoch,
 * as the official DataLoader with `shuffle=True`), each item with its own concept's (c, c*) pair and timestep;
 * the anchor targets are computed first (no tape), then the gradient of L over the selected parameters (micro-batch
 * accumulation when asked), global-norm clipping, one AdamW step.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW,
  InvalidOptionError,
  Rng,
  ShapeMismatchError,
  accumulateGradients,
  clipGlobalNorm,
  conceptAblationLoss,
  ensureGradients,
  microBatchSizes,
  reportProgress,
  throwIfAborted,
  type DiffusionModel,
  type ProgressListener,
} from '@erase/core';
import { generateAnchorLatents } from '../realera/anchor-latents';
import type { ErasureResultBase } from '../shared/erasure-result';
import { resolveConceptAblationOptions, type ConceptAblationOptions, type ResolvedConceptAblationOptions } from './options';
import { TrainedParameters } from './trained-parameters';

/** What a run did. */
export interface ConceptAblationStatistics {
  readonly steps: number;
  /** L of every step (before its update), in order. */
  readonly losses: readonly number[];
  /** Global gradient norm of every step, before clipping. */
  readonly gradientNorms: readonly number[];
  /** Number of trained scalars. */
  readonly trainedParameterCount: number;
  /** Anchor latents per concept (generated or given). */
  readonly anchorImages: readonly number[];
  readonly seconds: { readonly generation: number; readonly training: number; readonly total: number };
}

/** Result of `conceptAblation()`. Holds no tensors (the trained weights are in the model). */
export interface ConceptAblationResult extends ErasureResultBase {
  readonly method: 'concept-ablation';
  readonly options: ResolvedConceptAblationOptions;
  /** The trained parameters' diffusers names, in module order. */
  readonly changedParameters: readonly string[];
  readonly statistics: ConceptAblationStatistics;
  /** Nothing to free; present for the common contract. */
  dispose(): void;
}

/**
 * Ablates `options.concepts` from `model`, training the selected UNet parameters in place (their `trainable` flags
 * are switched on for the run and restored afterwards). An error or abort restores the parameters' original values.
 * No tensor is left behind. Progress stages: `concept-ablation.anchor-latents` (when generating),
 * `concept-ablation.train` (metrics `loss`, `gradientNorm`).
 * @throws InvalidOptionError for bad options; ShapeMismatchError for `anchorLatents` that do not fit
 *   `model.latentShape`; UnsupportedError for a model without parameters in the chosen group; AbortedError on abort.
 */
export async function conceptAblation(model: DiffusionModel, options: ConceptAblationOptions): Promise<ConceptAblationResult> {
  const started = performance.now();
  const resolved = resolveConceptAblationOptions(options);
  const given = givenLatents(options.anchorLatents, resolved.concepts.length, model.latentShape);
  await ensureGradients();
  const rng = new Rng(resolved.seed);
  const generationRng = rng.fork();
  const trainRng = rng.fork();

  const contexts = new Map<string, tf.Tensor3D>(); // prompt → E [1, T, D]
  const generated = new Map<string, tf.Tensor4D>(); // anchor prompt → x0 [n, h, w, C]
  try {
    for (const prompt of [...resolved.concepts, ...resolved.anchors]) {
      if (!contexts.has(prompt)) contexts.set(prompt, model.textEncoder.encodePrompts([prompt])); // [1, T, D]
    }
    if (!given) {
      const distinct = [...new Set(resolved.anchors)];
      for (const [a, anchor] of distinct.entries()) {
        generated.set(anchor, await generateAnchors(model, anchor, resolved, generationRng, { index: a, count: distinct.length }, options));
      }
    }
    const latents = resolved.anchors.map((anchor, k) => (given ? (given[k] as tf.Tensor4D) : (generated.get(anchor) as tf.Tensor4D)));
    const generationSeconds = (performance.now() - started) / 1000;

    const trainingStarted = performance.now();
    const trained = new TrainedParameters(model.unet, resolved.parameters, model.source);
    let stats: { losses: number[]; gradientNorms: number[] };
    try {
      stats = await train(model, resolved, trained, latents, contexts, trainRng, options);
    } catch (error) {
      trained.restoreValues();
      throw error;
    } finally {
      trained.release();
    }
    const trainedParameterCount = [...trained.variables.values()].reduce((sum, v) => sum + v.size, 0);
    const now = performance.now();
    return {
      method: 'concept-ablation',
      options: resolved,
      changedParameters: [...trained.variables.keys()],
      statistics: {
        steps: resolved.steps,
        losses: stats.losses,
        gradientNorms: stats.gradientNorms,
        trainedParameterCount,
        anchorImages: latents.map((x) => x.shape[0]),
        seconds: { generation: generationSeconds, training: (now - trainingStarted) / 1000, total: (now - started) / 1000 },
      },
      dispose: () => undefined,
    };
  } finally {
    for (const context of contexts.values()) context.dispose();
    for (const x of generated.values()) x.dispose();
  }
}

/** Generates `anchorImages` latents from `anchor` in chunks of `generationBatchSize`, with the model as it is now. */
async function generateAnchors(
  model: DiffusionModel,
  anchor: string,
  resolved: ResolvedConceptAblationOptions,
  rng: Rng,
  position: { readonly index: number; readonly count: number },
  run: ConceptAblationOptions,
): Promise<tf.Tensor4D> {
  const chunks: tf.Tensor4D[] = [];
  const total = Math.ceil(resolved.anchorImages / resolved.generationBatchSize);
  try {
    for (let chunk = 0; chunk < total; chunk++) {
      const count = Math.min(resolved.generationBatchSize, resolved.anchorImages - chunk * resolved.generationBatchSize);
      const onProgress: ProgressListener | undefined = run.onProgress
        ? (event) =>
            reportProgress(run.onProgress, {
              stage: 'concept-ablation.anchor-latents',
              step: (position.index * total + chunk) * resolved.generationSteps + event.step,
              total: position.count * total * resolved.generationSteps,
              message: JSON.stringify(anchor),
            })
        : undefined;
      chunks.push(
        await generateAnchorLatents(model, anchor, {
          count,
          steps: resolved.generationSteps,
          guidanceScale: resolved.guidanceScale ?? model.defaultGuidanceScale,
          seed: rng.nextUint32(),
          signal: run.signal,
          onProgress,
        }),
      );
    }
    return chunks.length === 1 ? (chunks.pop() as tf.Tensor4D) : (tf.concat(chunks, 0) as tf.Tensor4D); // [n, h, w, C]
  } finally {
    tf.dispose(chunks);
  }
}

/** The training loop (eq. 3, model-based). Leaves no tensor behind; throws AbortedError between steps. */
async function train(
  model: DiffusionModel,
  resolved: ResolvedConceptAblationOptions,
  trained: TrainedParameters,
  latents: readonly tf.Tensor4D[],
  contexts: ReadonlyMap<string, tf.Tensor3D>,
  rng: Rng,
  run: ConceptAblationOptions,
): Promise<{ losses: number[]; gradientNorms: number[] }> {
  const unet = model.unet;
  const variables = trained.list();
  const alphasCumprod = model.scheduler.alphasCumprod; // ᾱ_t, t = 0 … T_train − 1
  const sizes = microBatchSizes(resolved.batchSize, resolved.microBatchSize);
  const offsets = sizes.map((_, m) => sizes.slice(0, m).reduce((sum, b) => sum + b, 0));
  const batch = resolved.batchSize; // B
  const [h, w, c] = latents[0]?.shape.slice(1) as [number, number, number];
  const pool = latents.flatMap((x, k) => Array.from({ length: x.shape[0] }, (_, i) => [k, i] as const)); // (concept, image)
  let order: (readonly [number, number])[] = [];
  const optimizer = new AdamW(variables, { weightDecay: resolved.weightDecay }); // torch defaults β (0.9, 0.999), ε 1e-8
  const losses: number[] = [];
  const gradientNorms: number[] = [];
  try {
    for (let step = 1; step <= resolved.steps; step++) {
      throwIfAborted(run.signal, 'conceptAblation()');
      const items: (readonly [number, number])[] = [];
      for (let b = 0; b < batch; b++) {
        if (order.length === 0) order = shuffled(pool, rng);
        items.push(order.pop() as readonly [number, number]);
      }
      const t = items.map(() => rng.int(alphasCumprod.length)); // t_b
      const noise = rng.normalTensor([batch, h, w, c]); // ε [B, h, w, C]
      const inputs = tf.tidy(() => {
        const x0 = tf.concat(items.map(([k, i]) => tf.slice(latents[k] as tf.Tensor4D, [i, 0, 0, 0], [1, h, w, c])), 0); // [B, h, w, C]
        const rootA = tf.tensor4d(t.map((s) => Math.sqrt(alphasCumprod[s] as number)), [batch, 1, 1, 1]); // √ᾱ_t [B, 1, 1, 1]
        const rootB = tf.tensor4d(t.map((s) => Math.sqrt(1 - (alphasCumprod[s] as number))), [batch, 1, 1, 1]); // √(1 − ᾱ_t)
        const xt = tf.add(tf.mul(x0, rootA), tf.mul(noise, rootB)) as tf.Tensor4D; // x_t [B, h, w, C]
        const erased = tf.concat(items.map(([k]) => contexts.get(resolved.concepts[k] as string) as tf.Tensor3D), 0) as tf.Tensor3D; // E_c [B, T, D]
        const anchor = tf.concat(items.map(([k]) => contexts.get(resolved.anchors[k] as string) as tf.Tensor3D), 0) as tf.Tensor3D; // E_c* [B, T, D]
        return { xt, erased, anchor, timesteps: tf.tensor1d(t, 'float32') }; // timesteps [B]
      });
      noise.dispose();
      const rows = <T extends tf.Tensor>(x: T, m: number): T => tf.slice(x, [offsets[m] as number], [sizes[m] as number]) as T; // micro-batch rows [b, …]
      const targets: tf.Tensor4D[] = [];
      try {
        // sg[ε_θ(x_t, c*, t)]: the current model, outside any tape.
        for (let m = 0; m < sizes.length; m++) {
          targets.push(tf.tidy(() => unet.predict(rows(inputs.xt, m), rows(inputs.timesteps, m), rows(inputs.anchor, m)))); // [b, h, w, C]
        }
        const { loss, grads } = accumulateGradients(
          sizes,
          (m) =>
            conceptAblationLoss({
              targetPrediction: unet.predict(rows(inputs.xt, m), rows(inputs.timesteps, m), rows(inputs.erased, m)), // ε_θ(x_t, c, t) [b, h, w, C]
              anchorPrediction: targets[m] as tf.Tensor4D,
            }),
          { variables, signal: run.signal },
        );
        try {
          gradientNorms.push(clipGlobalNorm(grads, resolved.maxGradNorm));
          optimizer.step(grads, resolved.effectiveLearningRate);
        } finally {
          tf.dispose(Object.values(grads));
        }
        losses.push(loss);
      } finally {
        tf.dispose([inputs.xt, inputs.erased, inputs.anchor, inputs.timesteps, ...targets]);
      }
      reportProgress(run.onProgress, {
        stage: 'concept-ablation.train',
        step,
        total: resolved.steps,
        metrics: { loss: losses[losses.length - 1] as number, gradientNorm: gradientNorms[gradientNorms.length - 1] as number },
      });
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
    }
  } finally {
    optimizer.dispose();
  }
  return { losses, gradientNorms };
}

/** A Fisher–Yates shuffle of a copy of `items`, drawn from `rng`. */
function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** The given anchor latents, one per concept, after checking them against the model; undefined when none. */
function givenLatents(value: unknown, concepts: number, shape: readonly [number, number, number]): tf.Tensor4D[] | undefined {
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  for (const [index, item] of list.entries()) {
    const option = Array.isArray(value) ? `anchorLatents[${index}]` : 'anchorLatents';
    if (typeof item !== 'object' || item === null || !Array.isArray((item as { shape?: unknown }).shape)) {
      throw new InvalidOptionError({ option, expected: 'a float32 tf.Tensor4D [n, h, w, C]', received: item });
    }
    const latents = item as tf.Tensor;
    if (latents.dtype !== 'float32') throw new InvalidOptionError({ option, expected: 'a float32 tensor', received: latents.dtype });
    if (latents.rank !== 4 || (latents.shape[0] as number) < 1 || latents.shape[1] !== shape[0] || latents.shape[2] !== shape[1] || latents.shape[3] !== shape[2]) {
      throw new ShapeMismatchError({ what: `${option} [n, h, w, C]`, expected: [null, ...shape], received: latents.shape });
    }
  }
  const tensors = list as tf.Tensor4D[]; // checked above
  return tensors.length === 1 ? new Array<tf.Tensor4D>(concepts).fill(tensors[0] as tf.Tensor4D) : tensors;
}
