/**
 * The erasure subcommands as data: each names its method, the flags it takes (in the vocabulary of the official
 * scripts) and the API option each flag sets. `run` undefined means the method is not in this build yet.
 * To add a method: one row here (its function as `run`, its option validator as `resolve`).
 */
import type { DiffusionModel, LongRunningOptions } from '@erase/core';
import { adversarialPreservation } from '../adversarial-preservation/adversarial-preservation';
import { resolveAdversarialPreservationOptions, type AdversarialPreservationOptions } from '../adversarial-preservation/options';
import { conceptAblation } from '../concept-ablation/concept-ablation';
import { resolveConceptAblationOptions, type ConceptAblationOptions } from '../concept-ablation/options';
import { esd } from '../esd/esd';
import { resolveEsdOptions, type EsdOptions } from '../esd/options';
import { realEra } from '../realera/realera';
import { resolveRealEraOptions, type RealEraOptions } from '../realera/options';
import type { ErasureResultBase } from '../shared/erasure-result';
import { uce } from '../uce/uce';
import { resolveUceOptions, type UceOptions } from '../uce/options';
import type { FlagSpec } from './args';

/** A method flag: how its text is read and which option (dotted path) it sets. */
export interface MethodFlag extends FlagSpec {
  readonly option: string;
  /** For booleans: the value set when the flag is given (default true). */
  readonly set?: unknown;
}

/** One erasure subcommand. */
export interface MethodCommand {
  readonly command: string;
  readonly summary: string;
  readonly flags: Readonly<Record<string, MethodFlag>>;
  /** Validates the merged options without a model (throws InvalidOptionError); optional. */
  readonly resolve?: (options: Record<string, unknown>) => unknown;
  readonly run?: (model: DiffusionModel, options: Record<string, unknown> & LongRunningOptions) => Promise<ErasureResultBase>;
}

const concepts: MethodFlag = { kind: 'list', option: 'concepts', help: 'concepts to erase, comma-separated (required)' };
const preserve: MethodFlag = { kind: 'list', option: 'preserveConcepts', help: 'concepts to preserve, comma-separated' };
const seed: MethodFlag = { kind: 'integer', option: 'seed', help: 'seed of every random draw (default 0)' };
const iterations = (option: string, help: string): MethodFlag => ({ kind: 'integer', option, help });
const lr = (option: string, help = 'learning rate'): MethodFlag => ({ kind: 'number', option, help });
/** The ESD-style flags ESD and Adversarial Preservation share (official names), with each method's defaults in the help. */
const partialSamplingFlags = (defaults: { eta?: string; guidance?: string; steps?: string }): Record<string, MethodFlag> => ({
  'negative-guidance': { kind: 'number', option: 'negativeGuidance', help: `η, the negative guidance${defaults.eta ? ` (default ${defaults.eta})` : ''}` },
  'start-guidance': { kind: 'number', option: 'guidanceScale', help: `guidance of the partial sampling${defaults.guidance ? ` (default ${defaults.guidance})` : ''}` },
  'ddim-steps': { kind: 'integer', option: 'samplingSteps', help: `DDIM steps of the partial sampling${defaults.steps ? ` (default ${defaults.steps})` : ''}` },
});
const trainMethod = (option: string): MethodFlag => ({
  kind: 'choice',
  option,
  choices: { xattn: 'x', noxattn: 'u', x: 'x', u: 'u' },
  help: 'parameters trained: xattn (cross-attention, ESD-x) | noxattn (all but cross-attention, ESD-u)',
});

/** The table. */
export const METHOD_COMMANDS: readonly MethodCommand[] = [
  {
    command: 'uce',
    summary: 'Unified Concept Editing (closed-form edit of every cross-attention to_k/to_v; official 2023/2025 scripts).',
    flags: {
      concepts,
      'guide-concepts': { kind: 'list', option: 'guideConcepts', help: 'anchor concepts: one for all, or one per concept' },
      'preserve-concepts': preserve,
      technique: { kind: 'choice', option: 'technique', choices: { replace: 'replace', tensor: 'tensor' }, help: 'replace | tensor (default replace)' },
      version: { kind: 'choice', option: 'version', choices: { '2023': '2023', '2025': '2025' }, help: 'official script to reproduce: 2023 | 2025 (default 2023)' },
      'erase-scale': { kind: 'number', option: 'eraseScale', help: 's_e (default 1)' },
      'preserve-scale': { kind: 'number', option: 'preserveScale', help: 's_p (default per version)' },
      lamb: { kind: 'number', option: 'lambda', help: 'λ, the ridge weight (default 0.5)' },
      'expand-prompts': { kind: 'choice', option: 'expandPrompts', choices: { none: 'none', art: 'art', object: 'object' }, help: 'template expansion: none | art | object' },
    },
    resolve: (options) => resolveUceOptions(options as unknown as UceOptions),
    run: (model, options) => uce(model, options as unknown as UceOptions),
  },
  {
    command: 'realera',
    summary: 'RealEra: neighbour-concept mining, closed-form alignment, then LoRA prediction-noise alignment.',
    flags: {
      concepts,
      'guide-concepts': { kind: 'list', option: 'anchorConcepts', help: 'anchor concepts: one for all, or one per concept (default "")' },
      'preserve-concepts': preserve,
      lamb: { kind: 'number', option: 'closedForm.lambda', help: 'ridge λ of the closed form (default 0.5)' },
      'preserve-scale': { kind: 'number', option: 'closedForm.preserveWeight', help: 'λ1, weight of the preserve terms (default 0.1)' },
      iterations: iterations('lora.steps', 'LoRA optimizer steps (default 200)'),
      lr: lr('lora.learningRate'),
      rank: { kind: 'integer', option: 'lora.rank', help: 'LoRA rank (default 1)' },
      'batch-size': { kind: 'integer', option: 'lora.batchSize', help: 'noised latents per step (default 1)' },
      'anchor-images': { kind: 'integer', option: 'lora.anchorImages', help: 'images generated per anchor (default 4)' },
      'generation-steps': { kind: 'integer', option: 'lora.generationSteps', help: 'denoising steps of that generation (default 25)' },
      fuse: { kind: 'boolean', option: 'lora.fuse', help: 'fuse the LoRA into the weights (default: kept separate, saved as lora.safetensors)' },
      'no-mining': { kind: 'boolean', option: 'stages.mining', set: false, help: 'skip neighbour mining' },
      'no-closed-form': { kind: 'boolean', option: 'stages.closedForm', set: false, help: 'skip the closed-form stage' },
      'no-lora': { kind: 'boolean', option: 'stages.lora', set: false, help: 'skip the LoRA stage' },
      'neighbour-radius': { kind: 'number', option: 'sampler.neighbourRadius', help: 'D1, neighbour radius, × ‖e‖ (below --beyond-radius; default 4)' },
      'beyond-radius': { kind: 'number', option: 'sampler.beyondRadius', help: 'D2, outer radius of beyond-concept samples, × ‖e‖ (above --neighbour-radius; default 8)' },
      'anchor-radius': { kind: 'number', option: 'sampler.anchorRadius', help: "D1', anchor-partner radius, × ‖e*‖ (default 0.5)" },
      'cos-low': { kind: 'number', option: 'sampler.cosLow', help: 'S2, lower end of the neighbour cosine band (below --cos-high; default 0.3)' },
      'cos-high': { kind: 'number', option: 'sampler.cosHigh', help: 'S1, upper end of the neighbour cosine band (default 0.7)' },
      'num-neighbours': { kind: 'integer', option: 'sampler.numNeighbours', help: 'M, neighbours per token vector in the closed form (the LoRA stage draws one per even step, none when 0; default 10)' },
      'num-beyond': { kind: 'integer', option: 'sampler.numBeyond', help: 'N, beyond-concept samples per token vector in the closed form (the LoRA stage draws one per even step; 0 drops its beyond term; default 10)' },
      rescale: {
        kind: 'choice',
        option: 'sampler.rescale',
        choices: { 'original-norm': 'original-norm', none: 'none' },
        help: 'mined samples: original-norm (rescaled to ‖e‖, default) | none (as drawn)',
      },
      seed,
    },
    resolve: (options) => resolveRealEraOptions(options as unknown as RealEraOptions),
    run: (model, options) => realEra(model, options as unknown as RealEraOptions),
  },
  {
    command: 'esd',
    summary: 'Erased Stable Diffusion (ESD-x / ESD-u fine-tuning with negative guidance).',
    flags: {
      concepts,
      'train-method': trainMethod('variant'),
      iterations: iterations('iterations', 'optimizer steps (default 1000)'),
      lr: lr('learningRate'),
      ...partialSamplingFlags({ eta: '1', guidance: '3', steps: '50' }),
      seed,
    },
    resolve: (options) => resolveEsdOptions(options as unknown as EsdOptions),
    run: (model, options) => esd(model, options as unknown as EsdOptions),
  },
  {
    command: 'ap',
    summary: 'Adversarial Preservation (erase while preserving the adversarially found most sensitive concepts).',
    flags: {
      concepts,
      search: { kind: 'choice', option: 'search', choices: { gumbel: 'gumbel', pgd: 'pgd' }, help: 'concept search: gumbel | pgd' },
      'train-method': trainMethod('trainable'),
      iterations: iterations('iterations', 'optimizer steps'),
      lr: lr('learningRate'),
      ...partialSamplingFlags({ eta: '1', guidance: '3', steps: '50' }),
      'preserve-scale': { kind: 'number', option: 'preserveWeight', help: 'weight of L_preserve (default 1 gumbel, 0.01 pgd)' },
      seed,
    },
    resolve: (options) => resolveAdversarialPreservationOptions(options as unknown as AdversarialPreservationOptions),
    run: (model, options) => adversarialPreservation(model, options as unknown as AdversarialPreservationOptions),
  },
  {
    command: 'ca',
    summary: 'Concept Ablation (fine-tune so the concept\'s prompts give the anchor\'s images; model-based variant).',
    flags: {
      concepts,
      'guide-concepts': { kind: 'list', option: 'anchors', help: 'anchor prompts (class_prompt): one for all, or one per concept (required)' },
      'parameter-group': {
        kind: 'choice',
        option: 'parameters',
        choices: { 'cross-attn': 'kv', kv: 'kv', crossattn: 'crossattn', 'full-weight': 'full', full: 'full' },
        help: 'trained parameters: cross-attn (to_k/to_v) | crossattn (all attn2) | full-weight',
      },
      iterations: iterations('steps', 'optimizer steps (default 100)'),
      lr: lr('learningRate', 'base learning rate, × batch size as the official --scale_lr does (scaleLearningRate: false in --config keeps it as given; default 2e-6)'),
      'batch-size': { kind: 'integer', option: 'batchSize', help: 'noised anchor latents per step (default 8)' },
      'anchor-images': { kind: 'integer', option: 'anchorImages', help: 'images generated per anchor (default 200)' },
      'generation-steps': { kind: 'integer', option: 'generationSteps', help: 'denoising steps of that generation (default 50)' },
      seed,
    },
    resolve: (options) => resolveConceptAblationOptions(options as unknown as ConceptAblationOptions),
    run: (model, options) => conceptAblation(model, options as unknown as ConceptAblationOptions),
  },
];

/** The row of a subcommand, if it is an erasure method. */
export function methodCommand(command: string): MethodCommand | undefined {
  return METHOD_COMMANDS.find((m) => m.command === command);
}
