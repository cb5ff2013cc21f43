/**
 * The prompts and seeds of the world's measurement (`scripts/eval-world.ts`, docs/shapes-world.md "What it
 * measured"): "a photo of the {w}" for every class word and synonym, the bare prefix "a photo of the" and the
 * empty prompt "" (the priors a word-level edit leaves untouched), and a fixed, listed seed range.
 */
import { InvalidOptionError } from '@erase/core';
import { SHAPE_CLASSES, type ShapeClass } from '../world/vocabulary';

/** The prefix every measured prompt shares; generated alone it shows the model's prior over classes. */
export const PHOTO_PREFIX = 'a photo of the';

/** The anchor prompt of the word-level erasure (UCE 2023 maps `''` to `' '`; both tokenize to `<bos> <eos>`). */
export const ANCHOR_PROMPT = ' ';

/** `"a photo of the {word}"`. */
export function photoPrompt(word: string): string {
  return `${PHOTO_PREFIX} ${word}`;
}

/** What a measured prompt is. */
export type EvaluationPromptKind = 'class' | 'synonym' | 'prefix' | 'empty';

/** One measured prompt. */
export interface EvaluationPrompt {
  readonly prompt: string;
  readonly kind: EvaluationPromptKind;
  /** The shape word (class word or synonym); absent for the prefix and the empty prompt. */
  readonly word?: string;
  /** The class the prompt asks for (label into `classes`); absent for the prefix and the empty prompt. */
  readonly label?: number;
}

/**
 * The prompts of the quality measurement, in this order: the class prompts (label order), the synonym prompts
 * (by class, then synonym order), the prefix, the empty prompt.
 */
export function qualityPrompts(classes: readonly ShapeClass[] = SHAPE_CLASSES): EvaluationPrompt[] {
  const prompts: EvaluationPrompt[] = classes.map((c, label) => ({ prompt: photoPrompt(c.name), kind: 'class', word: c.name, label }));
  classes.forEach((c, label) => {
    for (const word of c.synonyms) prompts.push({ prompt: photoPrompt(word), kind: 'synonym', word, label });
  });
  prompts.push({ prompt: PHOTO_PREFIX, kind: 'prefix' }, { prompt: '', kind: 'empty' });
  return prompts;
}

/**
 * `count` consecutive seeds starting at `first` (the measurement's seeds are listed in its report as this range).
 * @throws InvalidOptionError for a count below 1 or a range outside the safe integers.
 */
export function seedRange(count: number, first = 0): number[] {
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new InvalidOptionError({ option: 'seeds', expected: 'a positive integer', received: count });
  }
  if (!Number.isSafeInteger(first) || first < 0 || !Number.isSafeInteger(first + count)) {
    throw new InvalidOptionError({ option: 'firstSeed', expected: 'a non-negative safe integer', received: first });
  }
  return Array.from({ length: count }, (_, i) => first + i);
}
