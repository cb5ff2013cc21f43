/**
 * The methods of the erasure benchmark with their settings on the embedded world (erasure.ts). Every method gets
 * the class prompt to erase, the anchor " " and the other nine class prompts to preserve; settings were chosen on
 * the recipe of docs/shapes-world (../shared/docs/shapes-world.md) and are the same for every class.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ANCHOR_PROMPT, photoPrompt, type ShapesWorldModel } from '@erase/shapes-world';
import { adversarialPreservation, conceptAblation, esd, generateAnchorLatents, realEra, uce, type RealEraOptions } from '../src/index';

/** What a method run leaves to clean up (the benchmark restores the UNet's parameters itself). */
export interface MethodRun {
  cleanup(): void;
}

/** One row of the benchmark. */
export interface BenchMethod {
  readonly id: string;
  readonly label: string;
  /** The settings in words, for the table. */
  readonly settings: string;
  run(world: ShapesWorldModel, erased: string, others: readonly string[], overrides?: Record<string, unknown>): Promise<MethodRun>;
}

/** RealEra's LoRA stage on the world (shapes-world.md): rank 1 on attn2 to_k/to_v, Adam 1e-3, 300 steps, batch 16. */
const REALERA_LORA = { rank: 1, steps: 300, learningRate: 1e-3, batchSize: 16, generationSteps: 20 } as const;
/** ESD / AP on the world: the official 1000 × 1e-5 moves this 1.7 M-parameter UNet too little; fewer, larger steps. */
const WORLD_FINE_TUNING = { iterations: 200, learningRate: 1e-4 } as const;
/** Concept Ablation on the world (official: 100 steps, batch 8, lr 2e-6 × 8). */
const WORLD_ABLATION = { steps: 100, batchSize: 8, learningRate: 1e-4 } as const;
/** Anchor images z₀ for the LoRA stage: generated once from " " by the original model and shared by every run. */
const ANCHOR_IMAGES = 64;
let anchorLatents: tf.Tensor4D | undefined;
async function anchors(world: ShapesWorldModel): Promise<tf.Tensor4D> {
  anchorLatents ??= await generateAnchorLatents(world, ANCHOR_PROMPT, { count: ANCHOR_IMAGES, steps: REALERA_LORA.generationSteps, guidanceScale: world.defaultGuidanceScale, seed: 1234 });
  return anchorLatents;
}

function realEraVariant(id: string, label: string, settings: string, stages: { mining: boolean; closedForm: boolean; lora: boolean }, closedFormMined: boolean): BenchMethod {
  return {
    id,
    label,
    settings,
    async run(world, erased, others, overrides = {}) {
      const sampler = (overrides.sampler ?? {}) as RealEraOptions['sampler'];
      const options: RealEraOptions = {
        concepts: [photoPrompt(erased)],
        anchorConcepts: [ANCHOR_PROMPT],
        preserveConcepts: others.map(photoPrompt),
        stages,
        ...(sampler ? { sampler } : {}),
        closedForm: { lambda: 0.1, useMinedSamples: closedFormMined },
        lora: { ...REALERA_LORA, ...(stages.lora ? { anchorLatents: await anchors(world) } : {}) },
        seed: 0,
      };
      const result = await realEra(world, options);
      return {
        cleanup() {
          result.lora?.adapter?.detach();
          result.dispose();
        },
      };
    },
  };
}

export const BENCH_METHODS: readonly BenchMethod[] = [
  { id: 'original', label: 'original model', settings: 'no edit', run: async () => ({ cleanup() {} }) },
  ...(['2023', '2025'] as const).map((version): BenchMethod => ({
    id: `uce-${version}`,
    label: `UCE ${version}`,
    settings: `official defaults (${version === '2023' ? 'replace, tokens from the word to the end' : 'last word token'}), λ 0.1`,
    async run(world, erased, others) {
      const result = await uce(world, { concepts: [photoPrompt(erased)], guideConcepts: [ANCHOR_PROMPT], preserveConcepts: others.map(photoPrompt), version, lambda: 0.1 });
      return { cleanup: () => result.dispose() };
    },
  })),
  ...(['x', 'u'] as const).map((variant): BenchMethod => ({
    id: `esd-${variant}`,
    label: `ESD-${variant}`,
    settings: `${WORLD_FINE_TUNING.iterations} iterations, Adam lr ${WORLD_FINE_TUNING.learningRate}, η 1, partial DDIM 50 steps at guidance 3`,
    async run(world, erased) {
      await esd(world, { concepts: [photoPrompt(erased)], variant, ...WORLD_FINE_TUNING, seed: 0 });
      return { cleanup() {} };
    },
  })),
  {
    id: 'ap',
    label: 'Adversarial Preservation',
    settings: `Gumbel-Softmax over the world's words (erased word excluded), ESD-x weights, ${WORLD_FINE_TUNING.iterations} iterations, lr ${WORLD_FINE_TUNING.learningRate}`,
    async run(world, erased) {
      await adversarialPreservation(world, { concepts: [photoPrompt(erased)], search: 'gumbel', trainable: 'x', ...WORLD_FINE_TUNING, gumbel: { numCenters: 20 }, seed: 0 });
      return { cleanup() {} };
    },
  },
  {
    id: 'ca',
    label: 'Concept Ablation',
    settings: `model-based, attn2 to_k/to_v, anchor " ", ${WORLD_ABLATION.steps} steps, batch ${WORLD_ABLATION.batchSize}, AdamW lr ${WORLD_ABLATION.learningRate}`,
    async run(world, erased) {
      await conceptAblation(world, { concepts: [photoPrompt(erased)], anchors: [ANCHOR_PROMPT], parameters: 'kv', ...WORLD_ABLATION, scaleLearningRate: false, anchorLatents: await anchors(world), seed: 0 });
      return { cleanup() {} };
    },
  },
  realEraVariant('realera-cf', 'RealEra: closed form only', 'UCE-style closed form, λ 0.1', { mining: false, closedForm: true, lora: false }, false),
  realEraVariant('realera-cf-mining', 'RealEra: + neighbour mining', 'closed form with mined neighbours/beyond samples', { mining: true, closedForm: true, lora: false }, true),
  realEraVariant('realera-cf-lora', 'RealEra: + noise alignment', 'closed form + LoRA eq. 8 only (no mined samples)', { mining: false, closedForm: true, lora: true }, false),
  realEraVariant('realera', 'RealEra (full)', 'closed form + LoRA eqs. 8–9 with fresh neighbours and beyond samples (rank 1, 300 steps, lr 1e-3, batch 16)', { mining: true, closedForm: true, lora: true }, false),
];

/** The sweep of the paper's Fig. 5 on one class: one of D, S, M, N at a time, others at their defaults. */
/** D and S shape the fresh draws of the LoRA stage (full RealEra); M and N only matter where mined sets are used, the closed form with mined samples. */
export const SWEEP: readonly { method: string; parameter: string; value: string; overrides: Record<string, unknown> }[] = [
  ...[0.5, 1, 2, 4].map((d) => ({ method: 'realera', parameter: 'D (neighbour radius, ×‖e‖)', value: String(d), overrides: { sampler: { neighbourRadius: d } } })),
  ...[[0.1, 0.5], [0.3, 0.7], [0.5, 0.9]].map(([lo, hi]) => ({ method: 'realera', parameter: 'S (cosine band)', value: `[${lo}, ${hi}]`, overrides: { sampler: { cosLow: lo, cosHigh: hi } } })),
  ...[5, 20, 80].map((m) => ({ method: 'realera-cf-mining', parameter: 'M (neighbours; closed form with mined samples)', value: String(m), overrides: { sampler: { numNeighbours: m } } })),
  ...[5, 20, 80].map((n) => ({ method: 'realera-cf-mining', parameter: 'N (beyond samples; closed form with mined samples)', value: String(n), overrides: { sampler: { numBeyond: n } } })),
];
