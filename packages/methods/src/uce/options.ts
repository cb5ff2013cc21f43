/**
 * Options of `uce()`, their defaults and how the official scripts turn concepts into prompt lists
 * (Gandikota et al., "Unified Concept Editing in Diffusion Models", WACV 2024; methods.md §1).
 *
 * Notation: s_e `eraseScale`, s_p `preserveScale`, λ `lambda`.
 *
 * UCE 2023 (`train-scripts/train_erase.py`, main block + `edit_model`):
 *   - erase prompts = the concepts (each followed by its templates when prompts are expanded);
 *   - anchors: none given → `' '` for every prompt; one → that prompt for all; several → guide k repeated
 *     for concept k's prompts (guides are never template-expanded); an anchor `''` becomes `' '`;
 *   - preserved prompts = `['', ...preserveConcepts]`, each contributing all T rows;
 *   - λ = 0.5 (`lamb=0.5` in the call), s_e = 1, s_p = max(0.1, 1 / len(['', ...preserveConcepts])).
 * UCE 2025 (`trainscripts/uce_sd_erase.py`):
 *   - anchors: none given → `''`; one → repeated; else one per concept; with expansion, concept k's templates
 *     are paired with the same templates of guide k, appended after the plain concepts — our reading: the script's
 *     own expansion loop walks the preserve list it appends to, so it expands nothing without preserve concepts and
 *     does not end with them; parity with the 2025 script holds for `expandPrompts: 'none'`;
 *   - preserved prompts = `preserveConcepts` (no `''`), one row each; λ = 0.5, s_e = s_p = 1.
 * Not reproduced: the 2023 script's default preserve list for `concept_type=art` (1,734 artist names from its
 * CSV) and the 2025 script's default guide `'art'` for art — pass them as `preserveConcepts` / `guideConcepts`.
 */
import { InvalidOptionError, type LongRunningOptions, type ProjectionName } from '@erase/core';
import {
  checkKnownKeys,
  finiteAtLeast,
  listenerOption,
  oneOf,
  pairAnchors,
  signalOption,
  stringList,
  booleanOption,
} from '../shared/validate';

/** Which official UCE code to reproduce. */
export type UceVersion = '2023' | '2025';
/** `replace`: v* = W c*; `tensor`: v* = W c* − ⟨u, W c*⟩ u (2023 only in the official code). */
export type UceTechnique = 'replace' | 'tensor';
/** Template sets of the official `add_prompts` / `expand_prompts` switches. */
export type UcePromptExpansion = 'none' | 'art' | 'object';

/** Options of `uce()`. Only `concepts` is required. */
export interface UceOptions extends LongRunningOptions {
  /** Concepts (prompts) to erase, e.g. `['Van Gogh']`. */
  readonly concepts: readonly string[];
  /** Anchors c* ("guide concepts"): one for all, or one per concept. Default: `' '` (2023) / `''` (2025). */
  readonly guideConcepts?: readonly string[];
  /** Concepts whose outputs are preserved. Default none (2023 always adds `''`). */
  readonly preserveConcepts?: readonly string[];
  /** Default '2023'. */
  readonly version?: UceVersion;
  /**
   * Default 'replace'. 'tensor' with version '2025' is our extension (the 2025 script has only replace):
   * the 2023 rule applied to each one-token slice.
   */
  readonly technique?: UceTechnique;
  /** λ ≥ 0, default 0.5. */
  readonly lambda?: number;
  /** s_e ≥ 0, default 1. */
  readonly eraseScale?: number;
  /** s_p ≥ 0, default per version (see the file's notes). */
  readonly preserveScale?: number;
  /** Append the official templates ('painting by {c}', … or 'image of {c}', …). Default 'none'. */
  readonly expandPrompts?: UcePromptExpansion;
  /** Projections edited at every cross-attention site. Default `['to_k', 'to_v']` (both scripts). */
  readonly projections?: readonly ProjectionName[];
  /** Write the edited weights into the model (default true); false leaves the model unchanged. */
  readonly inPlace?: boolean;
}

/** The options after defaults and validation, with the prompt lists exactly as the closed form uses them. */
export interface ResolvedUceOptions {
  readonly version: UceVersion;
  readonly technique: UceTechnique;
  readonly concepts: readonly string[];
  /** Erase prompts after expansion. */
  readonly erasePrompts: readonly string[];
  /** Anchor prompt of each erase prompt (same length). */
  readonly anchorPrompts: readonly string[];
  /** Preserved prompts (2023: `''` first). */
  readonly preservePrompts: readonly string[];
  readonly lambda: number;
  readonly eraseScale: number;
  readonly preserveScale: number;
  readonly expandPrompts: UcePromptExpansion;
  readonly projections: readonly ProjectionName[];
  readonly inPlace: boolean;
}

const KNOWN = [
  'concepts', 'guideConcepts', 'preserveConcepts', 'version', 'technique', 'lambda', 'eraseScale',
  'preserveScale', 'expandPrompts', 'projections', 'inPlace', 'onProgress', 'signal',
];

const TEMPLATES: Record<Exclude<UcePromptExpansion, 'none'>, readonly string[]> = {
  art: ['painting by {concept}', 'art by {concept}', 'artwork by {concept}', 'picture by {concept}', 'style of {concept}'],
  object: ['image of {concept}', 'photo of {concept}', 'portrait of {concept}', 'picture of {concept}', 'painting of {concept}'],
};

/**
 * Validates `options` and builds the prompt lists of the chosen version.
 * @throws InvalidOptionError naming the option (unknown keys, empty concept list, anchor count, bad numbers).
 */
export function resolveUceOptions(options: UceOptions): ResolvedUceOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError({ option: 'options', expected: 'an object', received: options });
  checkKnownKeys(options, KNOWN, '', 'uce()');
  signalOption(options.signal);
  listenerOption('onProgress', options.onProgress);
  const version = oneOf('version', options.version ?? '2023', ['2023', '2025'] as const);
  const technique = oneOf('technique', options.technique ?? 'replace', ['replace', 'tensor'] as const);
  const concepts = stringList('concepts', options.concepts, 1);
  const guides = options.guideConcepts === undefined ? undefined : stringList('guideConcepts', options.guideConcepts, 1);
  const preserveConcepts = stringList('preserveConcepts', options.preserveConcepts ?? [], 0);
  const expandPrompts = oneOf('expandPrompts', options.expandPrompts ?? 'none', ['none', 'art', 'object'] as const);
  const templates = expandPrompts === 'none' ? [] : TEMPLATES[expandPrompts];
  const fill = (template: string, concept: string): string => template.replace('{concept}', concept);

  let erasePrompts: string[];
  let anchorPrompts: string[];
  let preservePrompts: string[];
  let defaultPreserveScale: number;
  if (version === '2023') {
    const perConcept = 1 + templates.length;
    erasePrompts = concepts.flatMap((c) => [c, ...templates.map((t) => fill(t, c))]);
    const perPrompt = guides === undefined ? [' '] : guides.length === 1 ? guides : pairAnchors('guideConcepts', guides, concepts.length).flatMap((g) => new Array<string>(perConcept).fill(g));
    anchorPrompts = pairAnchors('guideConcepts', perPrompt, erasePrompts.length).map((a) => (a === '' ? ' ' : a));
    preservePrompts = ['', ...preserveConcepts];
    defaultPreserveScale = Math.max(0.1, 1 / preservePrompts.length);
  } else {
    const paired = pairAnchors('guideConcepts', guides ?? [''], concepts.length);
    erasePrompts = [...concepts, ...concepts.flatMap((c) => templates.map((t) => fill(t, c)))];
    anchorPrompts = [...paired, ...paired.flatMap((g) => templates.map((t) => fill(t, g)))];
    preservePrompts = preserveConcepts;
    defaultPreserveScale = 1;
  }

  return {
    version,
    technique,
    concepts,
    erasePrompts,
    anchorPrompts,
    preservePrompts,
    lambda: finiteAtLeast('lambda', options.lambda ?? 0.5),
    eraseScale: finiteAtLeast('eraseScale', options.eraseScale ?? 1),
    preserveScale: finiteAtLeast('preserveScale', options.preserveScale ?? defaultPreserveScale),
    expandPrompts,
    projections: resolveProjections(options.projections),
    inPlace: booleanOption('inPlace', options.inPlace ?? true),
  };
}

/** Validates a projection list (non-empty, distinct, among to_k/to_v). @throws InvalidOptionError */
export function resolveProjections(value: readonly ProjectionName[] | undefined, option = 'projections'): readonly ProjectionName[] {
  const list = value ?? (['to_k', 'to_v'] as const);
  if (!Array.isArray(list) || list.length === 0 || new Set(list).size !== list.length || !list.every((p) => p === 'to_k' || p === 'to_v')) {
    throw new InvalidOptionError({ option, expected: "a non-empty list of distinct 'to_k' / 'to_v'", received: list });
  }
  return [...list];
}
