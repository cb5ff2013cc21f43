/**
 * Checks a set of loaded weights against what a model expects, reporting *every* missing, unexpected and
 * wrongly shaped key in one `WeightKeysError` (diffusers' "loud errors" rule).
 */
import { WeightKeysError } from '@erase/core';

/** Something with a shape (a HostTensor, a tfjs tensor, or a header entry). */
export interface Shaped {
  readonly shape: readonly number[];
}

/**
 * @param source the file or folder the weights came from (named in the error)
 * @param expected key → shape in the *file's* layout (PyTorch [out, in], [out, in, kh, kw])
 * @param actual the loaded tensors
 * @param options.ignore keys matching any of these are neither missing nor unexpected (e.g. `position_ids`)
 * @throws WeightKeysError listing every problem
 */
export function checkWeightKeys(
  source: string,
  expected: ReadonlyMap<string, readonly number[]>,
  actual: ReadonlyMap<string, Shaped>,
  options: { ignore?: readonly RegExp[] } = {},
): void {
  const ignored = (key: string): boolean => (options.ignore ?? []).some((pattern) => pattern.test(key));
  const missing: string[] = [];
  const wrongShape: { key: string; expected: readonly number[]; received: readonly number[] }[] = [];
  for (const [key, shape] of expected) {
    const found = actual.get(key);
    if (!found) {
      if (!ignored(key)) missing.push(key);
      continue;
    }
    if (found.shape.length !== shape.length || found.shape.some((d, i) => d !== shape[i])) {
      wrongShape.push({ key, expected: shape, received: found.shape });
    }
  }
  const unexpected = [...actual.keys()].filter((key) => !expected.has(key) && !ignored(key));
  if (missing.length > 0 || unexpected.length > 0 || wrongShape.length > 0) {
    throw new WeightKeysError({ source, missing: missing.sort(), unexpected: unexpected.sort(), wrongShape });
  }
}
