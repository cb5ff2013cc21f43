/**
 * Option validation shared by the methods: every check throws `InvalidOptionError` naming the option (with its
 * dotted path, e.g. `lora.steps`) and what was expected. Nothing here touches tensors.
 */
import { InvalidOptionError } from '@erase/core';

/**
 * Throws for keys of `value` that are not in `known` (a typo must not be silently ignored).
 * @throws InvalidOptionError naming the unknown key and listing the known ones.
 */
export function checkKnownKeys(value: object, known: readonly string[], prefix: string, what: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      const option = prefix ? `${prefix}.${key}` : key;
      throw new InvalidOptionError({
        option,
        expected: `one of ${known.join(', ')}`,
        received: key,
        message: `Unknown option \`${option}\` for ${what}; known options: ${known.join(', ')}.`,
      });
    }
  }
}

/** `value` must be a plain object (or undefined → `{}`). @throws InvalidOptionError */
export function objectOption<T extends object>(option: string, value: T | undefined): T {
  if (value === undefined) return {} as T;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError({ option, expected: 'an object', received: value });
  }
  return value;
}

/** A list of strings (each possibly empty: `''` is a meaningful prompt). @throws InvalidOptionError */
export function stringList(option: string, value: unknown, minLength: number): string[] {
  if (!Array.isArray(value) || value.length < minLength || !value.every((v) => typeof v === 'string')) {
    throw new InvalidOptionError({
      option,
      expected: minLength > 0 ? `a list of at least ${minLength} prompt string(s)` : 'a list of prompt strings',
      received: value,
    });
  }
  return [...(value as string[])];
}

/** A finite number ≥ `min` (default 0). @throws InvalidOptionError */
export function finiteAtLeast(option: string, value: unknown, min = 0): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new InvalidOptionError({ option, expected: `a finite number >= ${min}`, received: value });
  }
  return value;
}

/** A finite number > 0. @throws InvalidOptionError */
export function positiveNumber(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidOptionError({ option, expected: 'a finite number > 0', received: value });
  }
  return value;
}

/** An integer ≥ `min`. @throws InvalidOptionError */
export function integerAtLeast(option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidOptionError({ option, expected: `an integer >= ${min}`, received: value });
  }
  return value;
}

/** A boolean. @throws InvalidOptionError */
export function booleanOption(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new InvalidOptionError({ option, expected: 'true or false', received: value });
  return value;
}

/** One of `allowed`. @throws InvalidOptionError */
export function oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidOptionError({ option, expected: `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, received: value });
  }
  return value as T;
}

/** An AbortSignal or undefined. @throws InvalidOptionError */
export function signalOption(value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || typeof (value as AbortSignal).aborted !== 'boolean') {
    throw new InvalidOptionError({ option: 'signal', expected: 'an AbortSignal', received: value });
  }
  return value as AbortSignal;
}

/** A function or undefined. @throws InvalidOptionError */
export function listenerOption<T>(option: string, value: T | undefined): T | undefined {
  if (value !== undefined && typeof value !== 'function') {
    throw new InvalidOptionError({ option, expected: 'a function', received: value });
  }
  return value;
}

/**
 * Pairs every erase prompt with its anchor: one anchor for all, or one per erase prompt.
 * @throws InvalidOptionError when the counts do not fit.
 */
export function pairAnchors(option: string, anchors: readonly string[], count: number): string[] {
  if (anchors.length === 1) return new Array<string>(count).fill(anchors[0] as string);
  if (anchors.length !== count) {
    throw new InvalidOptionError({
      option,
      expected: `one anchor for all concepts or exactly ${count} (one per concept)`,
      received: anchors,
    });
  }
  return [...anchors];
}
