import { rmSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidOptionError } from '@erase/core';
import { readPromptsCsvFile, writePromptsCsvFile, writeTextFileAtomic } from './files';

const tempDirs: string[] = [];
const tempDir = (dir: string): string => (tempDirs.push(dir), dir);
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('prompts CSV files', () => {
  it('writes atomically (no temp file left) and reads back', async () => {
    const dir = tempDir(mkdtempSync(join(tmpdir(), 'erase-eval-')));
    const path = join(dir, 'sub', 'prompts.csv');
    const rows = [{ caseNumber: 0, prompt: 'a "quoted", prompt', evaluationSeed: 1, className: 'cat' }];
    await writePromptsCsvFile(path, rows);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['prompts.csv']);
    expect(await readPromptsCsvFile(path)).toEqual(rows);
    await writeTextFileAtomic(path, 'replaced');
    expect(readFileSync(path, 'utf8')).toBe('replaced');
  });

  it('names the file in errors', async () => {
    const dir = tempDir(mkdtempSync(join(tmpdir(), 'erase-eval-')));
    const path = join(dir, 'bad.csv');
    writeFileSync(path, 'case_number,prompt,evaluation_seed,class\n0,x,seed,cat\n');
    await expect(readPromptsCsvFile(path)).rejects.toThrow(FileFormatError);
    await expect(readPromptsCsvFile(path)).rejects.toThrow(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line 2, column 5`));
    await expect(readPromptsCsvFile(join(dir, 'missing.csv'))).rejects.toThrow(InvalidOptionError);
  });
});
