/**
 * What the oracle saw for one prompt: over its N images with probability rows p_n ∈ [0, 1]^K,
 *   top-1 rate of class k     = 100 · #{n : argmax p_n = k} / N      (ties: the lowest index, as @erase/eval)
 *   mean probability of k     = 100 · mean_n p_n[k]
 * and the same two numbers for the prompt's intended class (absent for the prefix and the empty prompt).
 */
import { InvalidOptionError } from '@erase/core';

/** Per-prompt figures, in percent. */
export interface PromptScore {
  readonly prompt: string;
  /** The class the prompt asks for (label), when it asks for one. */
  readonly label?: number;
  readonly imageCount: number;
  /** Top-1 rate of the intended class (NaN without one). */
  readonly top1: number;
  /** Mean probability of the intended class (NaN without one). */
  readonly meanProbability: number;
  /** Top-1 rate of every class, in label order (sums to 100). */
  readonly top1ByClass: readonly number[];
  /** Mean probability of every class, in label order. */
  readonly meanProbabilityByClass: readonly number[];
}

/**
 * Scores one prompt's probability rows.
 * @throws InvalidOptionError for no rows, rows of different lengths or a label outside them.
 */
export function scorePrompt(prompt: string, rows: readonly ArrayLike<number>[], label?: number): PromptScore {
  const first = rows[0];
  if (first === undefined) throw new InvalidOptionError({ option: 'rows', expected: `at least one probability row for "${prompt}"`, received: rows });
  const k = first.length;
  if (label !== undefined && (!Number.isInteger(label) || label < 0 || label >= k)) {
    throw new InvalidOptionError({ option: 'label', expected: `a class index in [0, ${k})`, received: label });
  }
  const wins = new Array<number>(k).fill(0);
  const sums = new Array<number>(k).fill(0);
  for (const [n, row] of rows.entries()) {
    if (row.length !== k) throw new InvalidOptionError({ option: `rows[${n}]`, expected: `${k} probabilities`, received: row.length });
    let best = 0;
    for (let j = 0; j < k; j++) {
      sums[j] = (sums[j] as number) + (row[j] as number);
      if ((row[j] as number) > (row[best] as number)) best = j;
    }
    wins[best] = (wins[best] as number) + 1;
  }
  const top1ByClass = wins.map((x) => (100 * x) / rows.length);
  const meanProbabilityByClass = sums.map((x) => (100 * x) / rows.length);
  return {
    prompt,
    ...(label === undefined ? {} : { label }),
    imageCount: rows.length,
    top1: label === undefined ? Number.NaN : (top1ByClass[label] as number),
    meanProbability: label === undefined ? Number.NaN : (meanProbabilityByClass[label] as number),
    top1ByClass,
    meanProbabilityByClass,
  };
}

/** The mean of `values` (NaN for none). */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}
