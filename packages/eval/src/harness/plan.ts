/**
 * The generation plan: one item per image to generate, in a fixed order, with a fingerprint that shards and
 * results carry so that a merge can tell plans apart.
 *
 * Order: prompt rows in the order given, and within a row images 0 … imagesPerCase−1. Item `key` is
 * `{case_number}_{image_index}`, the file-name stem the ESD/UCE/MACE generation scripts use.
 * Seeding contract: image `imageIndex` of a case is the `imageIndex`-th image of a batch of `imagesPerCase`
 * whose initial noise is drawn from `seed` (the `evaluation_seed`), so a plan run in shards makes the same
 * images as one run.
 */
import { InvalidOptionError } from '@erase/core';
import type { PromptRow } from './prompts-csv';

/** One image to generate. */
export interface GenerationItem {
  /** `{caseNumber}_{imageIndex}`: unique in the plan. */
  readonly key: string;
  readonly caseNumber: number;
  readonly prompt: string;
  /** The case's `evaluation_seed`. */
  readonly seed: number;
  /** The class the classifier should find. */
  readonly className: string;
  /** 0 … imagesPerCase−1. */
  readonly imageIndex: number;
  /** Extra CSV columns of the case (shared with the row). */
  readonly extra?: Readonly<Record<string, string>>;
}

/** A whole plan: rows, images per case, items and a fingerprint of both. */
export interface GenerationPlan {
  /** 16 hex digits (FNV-1a, two 32-bit lanes) over the rows and `imagesPerCase`; not a security hash. */
  readonly fingerprint: string;
  readonly imagesPerCase: number;
  readonly rows: readonly PromptRow[];
  readonly items: readonly GenerationItem[];
}

/** Options of `createGenerationPlan`. */
export interface GenerationPlanOptions {
  /** Images per CSV row, generated as one batch from the row's seed (default 1, at most 10,000). */
  readonly imagesPerCase?: number;
  /** Refuse plans with more items than this (default 10,000,000), so a typo cannot allocate gigabytes. */
  readonly maxItems?: number;
}

/**
 * Builds the deterministic generation plan of a prompt set.
 *
 * @param rows prompt rows (e.g. from `parsePromptsCsv`); not modified.
 * @throws InvalidOptionError for no rows, a bad or duplicated case number, a bad seed, a bad `imagesPerCase`,
 *   or more than `maxItems` items.
 */
export function createGenerationPlan(rows: readonly PromptRow[], options: GenerationPlanOptions = {}): GenerationPlan {
  const imagesPerCase = options.imagesPerCase ?? 1;
  const maxItems = options.maxItems ?? 10_000_000;
  if (!Number.isInteger(imagesPerCase) || imagesPerCase < 1 || imagesPerCase > 10_000) {
    throw new InvalidOptionError({ option: 'imagesPerCase', expected: 'an integer in [1, 10000]', received: imagesPerCase });
  }
  if (!Number.isInteger(maxItems) || maxItems < 1) {
    throw new InvalidOptionError({ option: 'maxItems', expected: 'a positive integer', received: maxItems });
  }
  if (rows.length === 0) throw new InvalidOptionError({ option: 'rows', expected: 'at least one prompt row', received: rows });
  if (rows.length * imagesPerCase > maxItems) {
    throw new InvalidOptionError({
      option: 'imagesPerCase',
      expected: `at most ${maxItems} items in all (maxItems)`,
      received: `${rows.length} rows × ${imagesPerCase} = ${rows.length * imagesPerCase} items`,
    });
  }
  const cases = new Map<number, number>();
  rows.forEach((row, i) => {
    if (!Number.isSafeInteger(row.caseNumber) || row.caseNumber < 0) {
      throw new InvalidOptionError({ option: `rows[${i}].caseNumber`, expected: 'a non-negative safe integer', received: row.caseNumber });
    }
    if (!Number.isSafeInteger(row.evaluationSeed) || row.evaluationSeed < 0) {
      throw new InvalidOptionError({ option: `rows[${i}].evaluationSeed`, expected: 'a non-negative safe integer', received: row.evaluationSeed });
    }
    const earlier = cases.get(row.caseNumber);
    if (earlier !== undefined) {
      throw new InvalidOptionError({
        option: `rows[${i}].caseNumber`,
        expected: `a case number not used by an earlier row (rows[${earlier}] has it)`,
        received: row.caseNumber,
      });
    }
    cases.set(row.caseNumber, i);
  });

  const items: GenerationItem[] = [];
  for (const row of rows) {
    for (let imageIndex = 0; imageIndex < imagesPerCase; imageIndex++) {
      const item: GenerationItem = {
        key: `${row.caseNumber}_${imageIndex}`,
        caseNumber: row.caseNumber,
        prompt: row.prompt,
        seed: row.evaluationSeed,
        className: row.className,
        imageIndex,
      };
      items.push(row.extra ? { ...item, extra: row.extra } : item);
    }
  }
  return { fingerprint: planFingerprint(rows, imagesPerCase), imagesPerCase, rows, items };
}

/** The prompt rows of a plan (one per case), ready for `formatPromptsCsv`. */
export function planToPromptRows(plan: GenerationPlan): PromptRow[] {
  return plan.rows.map((row) => ({ ...row }));
}

/** FNV-1a over a canonical text of the rows, in two lanes with different offsets → 16 hex digits. */
function planFingerprint(rows: readonly PromptRow[], imagesPerCase: number): string {
  const canonical = JSON.stringify([
    imagesPerCase,
    rows.map((r) => [r.caseNumber, r.prompt, r.evaluationSeed, r.className, Object.entries(r.extra ?? {}).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))]),
  ]);
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < canonical.length; i++) {
    const c = canonical.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c ^ (i & 0xff), 0x01000193) >>> 0;
  }
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
}
