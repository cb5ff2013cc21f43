/**
 * File I/O of the harness: read a prompts CSV, write text files atomically (a temp file beside the target, then
 * rename, so a reader never sees half a file and a crash leaves the old file in place).
 */
import { readFile } from 'node:fs/promises';
import { InvalidOptionError, writeFileAtomic } from '@erase/core';
import { formatPromptsCsv, parsePromptsCsv } from './prompts-csv';
import type { PromptRow } from './prompts-csv';

/**
 * Reads and parses a prompts CSV file (UTF-8).
 *
 * @throws InvalidOptionError (option `path`) when the file cannot be read; FileFormatError (naming the file,
 *   line and column) when it is not a valid prompts CSV.
 */
export async function readPromptsCsvFile(path: string): Promise<PromptRow[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new InvalidOptionError({
      option: 'path',
      expected: 'a readable prompts CSV file',
      received: path,
      message: `Cannot read the prompts CSV ${path}: ${(error as Error).message}`,
    });
  }
  return parsePromptsCsv(text, path);
}

/** Writes prompt rows as a prompts CSV, atomically. Throws as `formatPromptsCsv` and `writeTextFileAtomic`. */
export async function writePromptsCsvFile(path: string, rows: readonly PromptRow[]): Promise<void> {
  await writeTextFileAtomic(path, formatPromptsCsv(rows));
}

/**
 * Writes UTF-8 text atomically with @erase/core's `writeFileAtomic` (a temp file in the same folder, fsync'd, then
 * renamed over the target). Creates the folder. Async for the harness's callers; the write itself is synchronous.
 *
 * @throws FileFormatError naming `path` when it cannot be written (the temp file removed).
 */
export async function writeTextFileAtomic(path: string, text: string): Promise<void> {
  writeFileAtomic(path, text, { createFolder: true });
}
