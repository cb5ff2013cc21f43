/**
 * Erasing and preserving success rates of Adversarial Preservation (Bui et al., Table 1; docs/methods.md §6).
 *
 * Notation:
 *   y_n          label of image n: the class its prompt names ("Image of {class}")
 *   top_k(n)     the k highest-ranked labels of a classifier for image n (AP: ResNet-50, 500 seeded images/class)
 *   ESR-k = 100 · mean over erased-class images   of [y_n ∉ top_k(n)]   (↑: the object is gone)
 *   PSR-k = 100 · mean over preserved-class images of [y_n ∈ top_k(n)]   (↑: the object is still there)
 * Both pool the images of all classes in the set, i.e. equal per-class weight when classes have equal counts.
 */
import { InvalidOptionError } from '@erase/core';

/** One image's label and the classifier's labels from most to least likely (at least k of them). */
export interface RankedPrediction {
  readonly label: string;
  readonly ranked: readonly string[];
}

/**
 * Class names ordered from most to least probable (ties: lower index first).
 *
 * @throws InvalidOptionError when the lengths differ or a probability is not finite.
 */
export function rankClasses(probabilities: ArrayLike<number>, classNames: readonly string[]): string[] {
  if (probabilities.length !== classNames.length) {
    throw new InvalidOptionError({ option: 'probabilities', expected: `${classNames.length} values (one per class)`, received: probabilities.length });
  }
  const order = Array.from({ length: classNames.length }, (_, k) => k);
  for (let k = 0; k < probabilities.length; k++) {
    if (!Number.isFinite(probabilities[k])) {
      throw new InvalidOptionError({ option: `probabilities[${k}]`, expected: 'a finite number', received: probabilities[k] });
    }
  }
  order.sort((a, b) => (probabilities[b] as number) - (probabilities[a] as number) || a - b);
  return order.map((k) => classNames[k] as string);
}

/** Percent of erased-class images whose label is NOT in the top-k. Throws as `topKHitRate`. */
export function erasingSuccessRate(predictions: readonly RankedPrediction[], k: number): number {
  return 100 - topKHitRate(predictions, k);
}

/** Percent of preserved-class images whose label IS in the top-k. Throws as `topKHitRate`. */
export function preservingSuccessRate(predictions: readonly RankedPrediction[], k: number): number {
  return topKHitRate(predictions, k);
}

/**
 * Percent of images whose label is among their first k ranked labels.
 *
 * @throws InvalidOptionError for no predictions, k not a positive integer, a ranking shorter than k, or a label
 *   repeated within the first k.
 */
export function topKHitRate(predictions: readonly RankedPrediction[], k: number): number {
  if (!Number.isInteger(k) || k < 1) throw new InvalidOptionError({ option: 'k', expected: 'a positive integer', received: k });
  if (predictions.length === 0) {
    throw new InvalidOptionError({ option: 'predictions', expected: 'at least one prediction', received: predictions });
  }
  let hits = 0;
  predictions.forEach((p, n) => {
    if (p.ranked.length < k) {
      throw new InvalidOptionError({ option: `predictions[${n}].ranked`, expected: `at least k = ${k} labels`, received: p.ranked });
    }
    const top = p.ranked.slice(0, k);
    if (new Set(top).size !== k) {
      throw new InvalidOptionError({ option: `predictions[${n}].ranked`, expected: `${k} distinct labels first`, received: p.ranked });
    }
    if (top.includes(p.label)) hits++;
  });
  return (100 * hits) / predictions.length;
}
