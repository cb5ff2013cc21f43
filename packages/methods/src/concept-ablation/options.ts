/**
 * Options of `conceptAblation()`, their defaults and validation (Kumari et al., "Ablating Concepts in Text-to-Image
 * Diffusion Models", ICCV 2023, model-based variant; methods.md §5; official code `nupurkmr9/concept-ablation`,
 * `diffusers/train.py` and `diffusers/README.md`, read for these defaults).
 *
 * Official setting → option (object/style ablation, the README's commands):
 *   | official                                         | here                                   | default                |
 *   |--------------------------------------------------|----------------------------------------|------------------------|
 *   | `--parameter_group cross-attn` (attn2.to_k/to_v) | `parameters: 'kv'`                     | `'kv'`                 |
 *   | `--parameter_group full-weight` (whole UNet)     | `parameters: 'full'`                   |                        |
 *   | — (ours: every `attn2.*` tensor, ESD-x's group)  | `parameters: 'crossattn'`              |                        |
 *   | `--train_batch_size 4` × 2 GPUs (README)         | `batchSize`                            | 8                      |
 *   | `--max_train_steps 100` (object/style)           | `steps`                                | 100                    |
 *   | `--learning_rate 2e-6 --scale_lr`                | `learningRate`, `scaleLearningRate`    | 2e-6, true → 1.6e-5    |
 *   | `torch.optim.AdamW`, β (0.9, 0.999), ε 1e-8      | (fixed)                                |                        |
 *   | `--adam_weight_decay 1e-2`                       | `weightDecay`                          | 0.01                   |
 *   | `--max_grad_norm 1.0` (clip_grad_norm_)          | `maxGradNorm` (0 = no clipping)        | 1                      |
 *   | `--num_class_images 200` (paper: 1000)           | `anchorImages` (per anchor prompt)     | 200                    |
 *   | pipeline defaults: 50 steps, its guidance        | `generationSteps`, `guidanceScale`     | 50, the model's        |
 *   | `--sample_batch_size 4`                          | `generationBatchSize`                  | 4                      |
 *   | `--seed 42`                                      | `seed`                                 | 0 (this project's)     |
 * Why batch 8 and lr 1.6e-5: the README runs batch 4 on 2 GPUs with `--scale_lr`, i.e. an effective batch of 8 and
 * lr = 2e-6 × 4 × 2; on one device it suggests `--train_batch_size=8` for the same effect. `scaleLearningRate`
 * multiplies by `batchSize` (gradient accumulation over micro-batches does not change the batch).
 * Not reproduced: random-rescale/flip augmentation of the anchor images and its loss mask (we noise latents as
 * generated, so the mask would be all ones), ChatGPT-written anchor captions (one anchor prompt per concept here),
 * the optional prior-preservation term, the text-embedding parameter group.
 */
import { InvalidOptionError, type LongRunningOptions } from '@erase/core';
import type * as tf from '@tensorflow/tfjs-core';
import {
  booleanOption,
  checkKnownKeys,
  finiteAtLeast,
  integerAtLeast,
  listenerOption,
  oneOf,
  pairAnchors,
  positiveNumber,
  signalOption,
  stringList,
} from '../shared/validate';

/**
 * Which UNet parameters train:
 *  - `'kv'`        every `attn2.to_k` / `attn2.to_v` tensor (the official `cross-attn` group; default);
 *  - `'crossattn'` every tensor under an `attn2` module (to_q, to_k, to_v, to_out.0 — ESD-x's group; ours);
 *  - `'full'`      every UNet parameter (the official `full-weight` group).
 */
export type ConceptAblationParameterGroup = 'kv' | 'crossattn' | 'full';

export const CONCEPT_ABLATION_PARAMETER_GROUPS: readonly ConceptAblationParameterGroup[] = ['kv', 'crossattn', 'full'];

/** Options of `conceptAblation()`. `concepts` and `anchors` are required. */
export interface ConceptAblationOptions extends LongRunningOptions {
  /** Prompts c of the concepts to ablate (the official `caption_target`, as a whole prompt). */
  readonly concepts: readonly string[];
  /** Anchor prompts c* (the official `class_prompt`): one for all concepts, or one per concept. */
  readonly anchors: readonly string[];
  /** Trained parameter group. Default `'kv'`. */
  readonly parameters?: ConceptAblationParameterGroup;
  /** Optimizer steps. Default 100. */
  readonly steps?: number;
  /** Noised anchor latents per step. Default 8. */
  readonly batchSize?: number;
  /** Largest micro-batch (gradient accumulation; the result is the same). Default `batchSize`. */
  readonly microBatchSize?: number;
  /** Base AdamW learning rate. Default 2e-6. */
  readonly learningRate?: number;
  /** Multiply `learningRate` by `batchSize` (the official `--scale_lr`). Default true. */
  readonly scaleLearningRate?: boolean;
  /** AdamW's decoupled weight decay λ. Default 0.01. */
  readonly weightDecay?: number;
  /** Clip the global gradient norm of the trained parameters to this value; 0 switches clipping off. Default 1. */
  readonly maxGradNorm?: number;
  /** Images generated per distinct anchor prompt. Default 200. */
  readonly anchorImages?: number;
  /** Denoising steps of that generation. Default 50. */
  readonly generationSteps?: number;
  /** Guidance scale of that generation. Default: the model's. */
  readonly guidanceScale?: number;
  /** Images generated at once. Default 4. */
  readonly generationBatchSize?: number;
  /**
   * Anchor latents x0 [n, h, w, C] to noise instead of generating them: one tensor for every concept, or one per
   * concept (not disposed; the UNet's latent space, i.e. already multiplied by the codec's scaling factor).
   */
  readonly anchorLatents?: tf.Tensor4D | readonly tf.Tensor4D[];
  /** Seed of every random draw (generation, batches, timesteps, noise). Default 0. */
  readonly seed?: number;
}

/** Options after defaults and validation (JSON-serialisable). */
export interface ResolvedConceptAblationOptions {
  readonly concepts: readonly string[];
  /** One anchor per concept (a shared anchor is repeated). */
  readonly anchors: readonly string[];
  readonly parameters: ConceptAblationParameterGroup;
  readonly steps: number;
  readonly batchSize: number;
  readonly microBatchSize: number;
  readonly learningRate: number;
  readonly scaleLearningRate: boolean;
  /** The learning rate AdamW uses: `learningRate × batchSize` when scaled. */
  readonly effectiveLearningRate: number;
  readonly weightDecay: number;
  readonly maxGradNorm: number;
  readonly anchorImages: number;
  readonly generationSteps: number;
  /** undefined: the model's default. */
  readonly guidanceScale: number | undefined;
  readonly generationBatchSize: number;
  /** Whether the anchor latents were given or generated. */
  readonly anchorLatents: 'given' | 'generated';
  readonly seed: number;
}

const KNOWN = [
  'concepts', 'anchors', 'parameters', 'steps', 'batchSize', 'microBatchSize', 'learningRate', 'scaleLearningRate', 'weightDecay',
  'maxGradNorm', 'anchorImages', 'generationSteps', 'guidanceScale', 'generationBatchSize', 'anchorLatents', 'seed', 'onProgress', 'signal',
];

/**
 * Validates `options` and fills in defaults. The anchor latents' shapes are checked against the model later.
 * @throws InvalidOptionError naming the option: unknown keys, empty concepts, anchor count, an unknown parameter
 *   group, numbers out of range, an anchor-latent list whose length fits neither one nor every concept.
 */
export function resolveConceptAblationOptions(options: ConceptAblationOptions): ResolvedConceptAblationOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError({ option: 'options', expected: 'an object', received: options });
  checkKnownKeys(options, KNOWN, '', 'conceptAblation()');
  signalOption(options.signal);
  listenerOption('onProgress', options.onProgress);
  const concepts = stringList('concepts', options.concepts, 1);
  if (options.anchors === undefined) {
    throw new InvalidOptionError({ option: 'anchors', expected: 'anchor prompts (one for all concepts, or one per concept)', received: undefined });
  }
  const anchors = pairAnchors('anchors', stringList('anchors', options.anchors, 1), concepts.length);
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new InvalidOptionError({ option: 'seed', expected: 'a safe integer', received: seed });
  const batchSize = integerAtLeast('batchSize', options.batchSize ?? 8, 1);
  const learningRate = positiveNumber('learningRate', options.learningRate ?? 2e-6);
  const scaleLearningRate = booleanOption('scaleLearningRate', options.scaleLearningRate ?? true);
  const given = options.anchorLatents;
  if (Array.isArray(given) && given.length !== 1 && given.length !== concepts.length) {
    throw new InvalidOptionError({ option: 'anchorLatents', expected: `one tensor for all concepts or exactly ${concepts.length} (one per concept)`, received: given });
  }
  return {
    concepts,
    anchors,
    parameters: oneOf('parameters', options.parameters ?? 'kv', CONCEPT_ABLATION_PARAMETER_GROUPS),
    steps: integerAtLeast('steps', options.steps ?? 100, 1),
    batchSize,
    microBatchSize: Math.min(integerAtLeast('microBatchSize', options.microBatchSize ?? batchSize, 1), batchSize),
    learningRate,
    scaleLearningRate,
    effectiveLearningRate: scaleLearningRate ? learningRate * batchSize : learningRate,
    weightDecay: finiteAtLeast('weightDecay', options.weightDecay ?? 0.01),
    maxGradNorm: finiteAtLeast('maxGradNorm', options.maxGradNorm ?? 1),
    anchorImages: integerAtLeast('anchorImages', options.anchorImages ?? 200, 1),
    generationSteps: integerAtLeast('generationSteps', options.generationSteps ?? 50, 1),
    guidanceScale: options.guidanceScale === undefined ? undefined : finiteAtLeast('guidanceScale', options.guidanceScale),
    generationBatchSize: integerAtLeast('generationBatchSize', options.generationBatchSize ?? 4, 1),
    anchorLatents: given === undefined ? 'generated' : 'given',
    seed,
  };
}
