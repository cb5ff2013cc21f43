import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@erase/core';
import { cifar10PromptSet, promptTemplate } from '../prompts/prompt-sets';
import { createGenerationPlan } from './plan';
import { objectErasurePrompts, promptRole, promptRowsFromConcepts, seedRange } from './prompt-rows';
import { formatPromptsCsv, parsePromptsCsv } from './prompts-csv';

describe('objectErasurePrompts', () => {
  it('fills the template with every class, then every synonym', () => {
    const prompts = objectErasurePrompts({
      classes: ['cat', 'dog'],
      synonyms: { cat: ['kitty', 'feline'] },
      template: promptTemplate('photoOfThe'),
    });
    expect(prompts).toEqual([
      { className: 'cat', concept: 'cat', prompt: 'a photo of the cat' },
      { className: 'dog', concept: 'dog', prompt: 'a photo of the dog' },
      { className: 'cat', concept: 'kitty', prompt: 'a photo of the kitty' },
      { className: 'cat', concept: 'feline', prompt: 'a photo of the feline' },
    ]);
  });

  it('builds the CIFAR-10 evaluation set: 10 class prompts and 30 synonym prompts', () => {
    const set = cifar10PromptSet();
    const prompts = objectErasurePrompts({ classes: set.classes, synonyms: set.synonyms, template: promptTemplate('photoOfThe') });
    expect(prompts.length).toBe(40);
    expect(prompts.filter((p) => p.className === 'bird').map((p) => p.prompt)).toEqual([
      'a photo of the bird',
      'a photo of the avian',
      'a photo of the fowl',
      'a photo of the winged creature',
    ]);
  });

  it('rejects duplicated classes and synonyms of unknown classes', () => {
    const template = promptTemplate('photoOfThe');
    expect(() => objectErasurePrompts({ classes: ['a', 'a'], template })).toThrow(InvalidOptionError);
    expect(() => objectErasurePrompts({ classes: ['a'], synonyms: { b: ['c'] }, template })).toThrow(InvalidOptionError);
  });
});

describe('promptRowsFromConcepts and promptRole', () => {
  const prompts = objectErasurePrompts({ classes: ['cat', 'dog'], synonyms: { cat: ['kitty'], dog: ['hound'] }, template: promptTemplate('photoOfThe') });
  const rows = promptRowsFromConcepts(prompts, { seeds: seedRange(1, 2), firstCaseNumber: 100 });

  it('one row per (prompt, seed), case numbers consecutive, concept in an extra column', () => {
    expect(rows.length).toBe(8);
    expect(rows.map((r) => r.caseNumber)).toEqual([100, 101, 102, 103, 104, 105, 106, 107]);
    expect(rows.map((r) => r.evaluationSeed)).toEqual([1, 2, 1, 2, 1, 2, 1, 2]);
    expect(rows[4]).toEqual({ caseNumber: 104, prompt: 'a photo of the kitty', evaluationSeed: 1, className: 'cat', extra: { concept: 'kitty' } });
  });

  it('assigns roles for an erased class after a CSV round trip', () => {
    const plan = createGenerationPlan(parsePromptsCsv(formatPromptsCsv(rows)));
    const roles = plan.items.map((item) => `${item.prompt} → ${promptRole(item, 'cat')}`);
    expect([...new Set(roles)]).toEqual([
      'a photo of the cat → erased',
      'a photo of the dog → other',
      'a photo of the kitty → synonym',
      'a photo of the hound → null',
    ]);
    expect(promptRole({ className: 'dog' }, 'cat')).toBe('other');
    // a blank concept (what the CSV writer leaves for rows without one) is no concept: the class prompt's role
    expect(promptRole({ className: 'dog', extra: { concept: '' } }, 'cat')).toBe('other');
    expect(promptRole({ className: 'cat', extra: { concept: '' } }, 'cat')).toBe('erased');
    expect(promptRole({ className: 'cat' }, 'cat')).toBe('erased');
  });

  it('rejects bad seeds and case numbers', () => {
    expect(() => promptRowsFromConcepts(prompts, { seeds: [] })).toThrow(InvalidOptionError);
    expect(() => promptRowsFromConcepts(prompts, { seeds: [1, 1] })).toThrow(InvalidOptionError);
    expect(() => promptRowsFromConcepts(prompts, { seeds: [-1] })).toThrow(InvalidOptionError);
    expect(() => promptRowsFromConcepts(prompts, { seeds: [1], firstCaseNumber: -1 })).toThrow(InvalidOptionError);
    expect(() => promptRowsFromConcepts([], { seeds: [1] })).toThrow(InvalidOptionError);
    expect(() => seedRange(0, 0)).toThrow(InvalidOptionError);
    expect(seedRange(5, 3)).toEqual([5, 6, 7]);
  });
});
