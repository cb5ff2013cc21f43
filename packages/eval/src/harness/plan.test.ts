import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@erase/core';
import { createGenerationPlan, planToPromptRows } from './plan';
import type { PromptRow } from './prompts-csv';
import { formatPromptsCsv, parsePromptsCsv } from './prompts-csv';

const rows: PromptRow[] = [
  { caseNumber: 10, prompt: 'a photo of the cat', evaluationSeed: 3, className: 'cat' },
  { caseNumber: 2, prompt: 'a photo of the kitty', evaluationSeed: 3, className: 'cat', extra: { concept: 'kitty' } },
  { caseNumber: 7, prompt: 'a photo of the dog', evaluationSeed: 9, className: 'dog' },
];

describe('createGenerationPlan', () => {
  it('one item per image, rows in order, images within a row', () => {
    const plan = createGenerationPlan(rows, { imagesPerCase: 2 });
    expect(plan.items.map((i) => i.key)).toEqual(['10_0', '10_1', '2_0', '2_1', '7_0', '7_1']);
    expect(plan.items[3]).toEqual({
      key: '2_1',
      caseNumber: 2,
      prompt: 'a photo of the kitty',
      seed: 3,
      className: 'cat',
      imageIndex: 1,
      extra: { concept: 'kitty' },
    });
    expect(plan.imagesPerCase).toBe(2);
    expect(plan.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it('is deterministic, and the fingerprint tells different plans apart', () => {
    const a = createGenerationPlan(rows, { imagesPerCase: 2 });
    expect(createGenerationPlan(rows.map((r) => ({ ...r })), { imagesPerCase: 2 })).toEqual(a);
    const fingerprints = new Set([
      a.fingerprint,
      createGenerationPlan(rows, { imagesPerCase: 3 }).fingerprint,
      createGenerationPlan([{ ...(rows[0] as PromptRow), evaluationSeed: 4 }, ...rows.slice(1)], { imagesPerCase: 2 }).fingerprint,
      createGenerationPlan([...rows].reverse(), { imagesPerCase: 2 }).fingerprint,
      createGenerationPlan(rows.map((r) => ({ ...r, extra: { concept: 'x' } })), { imagesPerCase: 2 }).fingerprint,
    ]);
    expect(fingerprints.size).toBe(5);
  });

  it('goes back to the same prompts CSV', () => {
    const plan = createGenerationPlan(parsePromptsCsv(formatPromptsCsv(rows)));
    const again = createGenerationPlan(parsePromptsCsv(formatPromptsCsv(planToPromptRows(plan))));
    expect(again.fingerprint).toBe(plan.fingerprint);
    expect(again.items).toEqual(plan.items);
  });

  it('rejects duplicated cases, bad seeds, bad image counts and oversized plans', () => {
    expect(() => createGenerationPlan([])).toThrow(InvalidOptionError);
    expect(() => createGenerationPlan([...rows, { ...(rows[0] as PromptRow) }])).toThrow(/rows\[3\]\.caseNumber.*rows\[0\]/s);
    expect(() => createGenerationPlan([{ ...(rows[0] as PromptRow), evaluationSeed: 1.5 }])).toThrow(InvalidOptionError);
    expect(() => createGenerationPlan(rows, { imagesPerCase: 0 })).toThrow(InvalidOptionError);
    expect(() => createGenerationPlan(rows, { imagesPerCase: 2.5 })).toThrow(InvalidOptionError);
    expect(() => createGenerationPlan(rows, { imagesPerCase: 10, maxItems: 29 })).toThrow(/at most 29 items/);
  });
});
