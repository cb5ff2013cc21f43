import { describe, expect, it } from 'vitest';
import { FileFormatError, InvalidOptionError } from '@erase/core';
import { formatPromptsCsv, parsePromptsCsv } from './prompts-csv';
import type { PromptRow } from './prompts-csv';

describe('parsePromptsCsv', () => {
  it('reads the four columns in any order and keeps extra columns', () => {
    const text = 'class,evaluation_seed,prompt,case_number,concept\ncat,42,"a photo of the cat, sitting",0,cat\ncat,7,"the ""kitty""",1,kitty\n';
    expect(parsePromptsCsv(text)).toEqual([
      { caseNumber: 0, prompt: 'a photo of the cat, sitting', evaluationSeed: 42, className: 'cat', extra: { concept: 'cat' } },
      { caseNumber: 1, prompt: 'the "kitty"', evaluationSeed: 7, className: 'cat', extra: { concept: 'kitty' } },
    ]);
  });

  it('rows without extra columns carry no extra field', () => {
    const rows = parsePromptsCsv('case_number,prompt,evaluation_seed,class\n3,a dog,5,dog\n');
    expect(rows).toEqual([{ caseNumber: 3, prompt: 'a dog', evaluationSeed: 5, className: 'dog' }]);
  });

  const header = 'case_number,prompt,evaluation_seed,class\n';
  it.each([
    ['an empty file', '', /the file is empty/],
    ['a missing column', 'case_number,prompt,class\n0,x,cat\n', /line 1: the header lacks evaluation_seed/],
    ['a repeated header column', 'case_number,prompt,evaluation_seed,class,prompt\n', /line 1, column 42: header column "prompt" repeats column 13/],
    ['a header without rows', header, /followed by no rows/],
    ['a short row', `${header}0,x,1\n`, /line 2: 3 fields, but the header has 4/],
    ['a non-integer seed', `${header}0,"a, b",1.5,cat\n`, /line 2, column 10 \(evaluation_seed\): "1.5" is not a non-negative safe integer/],
    ['a negative case number', `${header}-1,x,1,cat\n`, /line 2, column 1 \(case_number\)/],
    ['an empty class', `${header}0,x,1,\n`, /line 2, column 7 \(class\): the class is empty/],
    ['a duplicated case', `${header}0,x,1,cat\n1,"multi\nline",2,dog\n0,z,3,cat\n`, /line 5, column 1 \(case_number\): case 0 already appears on line 2/],
    ['a CSV syntax error', `${header}0,"x,1,cat\n`, /line 2, column 3: the quoted field opened here is never closed/],
  ])('rejects %s with FileFormatError naming the place', (_what, text, message) => {
    expect(() => parsePromptsCsv(text, 'prompts.csv')).toThrow(FileFormatError);
    expect(() => parsePromptsCsv(text, 'prompts.csv')).toThrow(message);
  });
});

describe('formatPromptsCsv', () => {
  const rows: PromptRow[] = [
    { caseNumber: 0, prompt: 'Guinness World Record certified "Songbird Supreme"', evaluationSeed: 1, className: 'Mariah Carey' },
    { caseNumber: 1, prompt: 'a photo of the cat, sitting\non a mat', evaluationSeed: 2, className: 'cat', extra: { concept: 'cat' } },
    { caseNumber: 5, prompt: '', evaluationSeed: 2 ** 40, className: 'a,b' },
  ];

  it('writes the header, quotes as RFC 4180 and round-trips', () => {
    const text = formatPromptsCsv(rows);
    expect(text.split('\n')[0]).toBe('case_number,prompt,evaluation_seed,class,concept');
    expect(text).toContain('0,"Guinness World Record certified ""Songbird Supreme""",1,Mariah Carey,\n');
    const back = parsePromptsCsv(text);
    expect(back.map((r) => [r.caseNumber, r.prompt, r.evaluationSeed, r.className])).toEqual(
      rows.map((r) => [r.caseNumber, r.prompt, r.evaluationSeed, r.className]),
    );
    expect(back[1]?.extra).toEqual({ concept: 'cat' });
    expect(back[0]?.extra).toEqual({ concept: '' });
    expect(parsePromptsCsv(formatPromptsCsv(back))).toEqual(back);
  });

  it('rejects rows it could not read back', () => {
    const base = rows[0] as PromptRow;
    expect(() => formatPromptsCsv([{ ...base, evaluationSeed: -1 }])).toThrow(InvalidOptionError);
    expect(() => formatPromptsCsv([{ ...base, caseNumber: 0.5 }])).toThrow(InvalidOptionError);
    expect(() => formatPromptsCsv([{ ...base, className: '' }])).toThrow(InvalidOptionError);
    expect(() => formatPromptsCsv([base, base])).toThrow(/rows\[1\]\.caseNumber/);
    expect(() => formatPromptsCsv([{ ...base, extra: { prompt: 'x' } }])).toThrow(InvalidOptionError);
  });
});
