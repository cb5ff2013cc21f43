/** Reads a JSON object from a file, with typed errors. Node only. */
import { readFileSync } from 'node:fs';
import { FileFormatError } from '@erase/core';

/**
 * The parsed JSON object in `path`.
 * @throws FileFormatError naming the file when it is missing, not JSON, or not an object
 */
export function readJsonFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new FileFormatError({ file: path, expected: 'a JSON file', problem: `cannot be read (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, cause });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new FileFormatError({ file: path, expected: 'valid JSON', problem: (cause as Error).message, cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FileFormatError({ file: path, expected: 'a JSON object', problem: 'holds another JSON value' });
  }
  return value as Record<string, unknown>;
}
