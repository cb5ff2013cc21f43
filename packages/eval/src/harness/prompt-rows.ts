/**
 * From a prompt set to prompts-CSV rows, and from a row back to its role once the erased class is known.
 *
 * Each row carries an extra `concept` column: the word filled into the template. A row whose concept is its
 * class is a class prompt; any other concept is a synonym of the row's class. With class c erased:
 * class prompt of c → `erased` (Acc_e); class prompt of another class → `other` (Acc_s); synonym prompt of c →
 * `synonym` (Acc_g, scored against c); synonyms of other classes take no part (MACE's protocol).
 */
import { InvalidOptionError } from '@erase/core';
import type { PromptRole } from '../metrics/erasure-accuracy';
import { fillTemplate } from '../prompts/prompt-sets';
import type { PromptTemplate } from '../prompts/prompt-sets';
import type { PromptRow } from './prompts-csv';

/** A prompt with the class it should show and the word that names it. */
export interface ConceptPrompt {
  readonly className: string;
  readonly concept: string;
  readonly prompt: string;
}

/**
 * The prompts of an object-erasure evaluation: every class through the template, then every synonym of every
 * class (scored as that class), in the order given.
 *
 * @throws InvalidOptionError for an empty or duplicated class list, synonyms of an unknown class, or a bad template.
 */
export function objectErasurePrompts(args: {
  readonly classes: readonly string[];
  readonly synonyms?: Readonly<Record<string, readonly string[]>>;
  readonly template: Pick<PromptTemplate, 'template' | 'placeholder'>;
}): ConceptPrompt[] {
  const { classes, synonyms = {}, template } = args;
  if (classes.length === 0 || new Set(classes).size !== classes.length || classes.some((c) => c === '')) {
    throw new InvalidOptionError({ option: 'classes', expected: 'a non-empty list of distinct, non-empty class names', received: classes });
  }
  const prompts: ConceptPrompt[] = classes.map((c) => ({ className: c, concept: c, prompt: fillTemplate(template, c) }));
  for (const [className, words] of Object.entries(synonyms)) {
    if (!classes.includes(className)) {
      throw new InvalidOptionError({ option: 'synonyms', expected: `keys among the classes (${classes.join(', ')})`, received: className });
    }
    for (const word of words) prompts.push({ className, concept: word, prompt: fillTemplate(template, word) });
  }
  return prompts;
}

/** `count` consecutive seeds from `first`: `seedRange(1, 3)` → `[1, 2, 3]`. Throws InvalidOptionError on bad input. */
export function seedRange(first: number, count: number): number[] {
  if (!Number.isSafeInteger(first) || first < 0) {
    throw new InvalidOptionError({ option: 'first', expected: 'a non-negative safe integer', received: first });
  }
  if (!Number.isInteger(count) || count < 1 || !Number.isSafeInteger(first + count)) {
    throw new InvalidOptionError({ option: 'count', expected: 'a positive integer keeping seeds safe integers', received: count });
  }
  return Array.from({ length: count }, (_, i) => first + i);
}

/**
 * One row per (prompt, seed), prompts outer: case numbers run from `firstCaseNumber` upwards. Every prompt gets
 * the same seeds, so images of different prompts pair up by seed. The `concept` goes to an extra column.
 *
 * @throws InvalidOptionError for no prompts, no seeds, a seed or first case number that is not a non-negative
 *   safe integer, or a duplicated seed.
 */
export function promptRowsFromConcepts(
  prompts: readonly ConceptPrompt[],
  options: { readonly seeds: readonly number[]; readonly firstCaseNumber?: number },
): PromptRow[] {
  const { seeds } = options;
  const first = options.firstCaseNumber ?? 0;
  if (prompts.length === 0) throw new InvalidOptionError({ option: 'prompts', expected: 'at least one prompt', received: prompts });
  if (seeds.length === 0 || seeds.some((s) => !Number.isSafeInteger(s) || s < 0) || new Set(seeds).size !== seeds.length) {
    throw new InvalidOptionError({ option: 'seeds', expected: 'a non-empty list of distinct non-negative safe integers', received: seeds });
  }
  if (!Number.isSafeInteger(first) || first < 0) {
    throw new InvalidOptionError({ option: 'firstCaseNumber', expected: 'a non-negative safe integer', received: first });
  }
  const rows: PromptRow[] = [];
  for (const p of prompts) {
    for (const seed of seeds) {
      rows.push({ caseNumber: first + rows.length, prompt: p.prompt, evaluationSeed: seed, className: p.className, extra: { concept: p.concept } });
    }
  }
  return rows;
}

/**
 * The role of a row or plan item when `erasedClass` is erased, or `null` when it takes no part (a synonym of
 * another class). Without a `concept` column every row is a class prompt.
 */
export function promptRole(
  row: { readonly className: string; readonly extra?: Readonly<Record<string, string>> },
  erasedClass: string,
): PromptRole | null {
  const concept = row.extra?.['concept'] || row.className; // a blank concept (a CSV cell left empty) is none
  const isClassPrompt = concept === row.className;
  if (row.className === erasedClass) return isClassPrompt ? 'erased' : 'synonym';
  return isClassPrompt ? 'other' : null;
}
