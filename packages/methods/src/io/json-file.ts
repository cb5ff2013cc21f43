/** JSON files as diffusers writes configs: 2-space indentation and a trailing newline. */
import { writeFileSync } from 'node:fs';
import { FileFormatError } from '@erase/core';

/**
 * Writes `value` as JSON to `path` (meant for a file inside a staging folder: the folder rename is the atomic step).
 * @throws FileFormatError naming the file when it cannot be written
 */
export function writeJsonFile(path: string, value: unknown): void {
  try {
    writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`, { flag: 'wx' });
  } catch (cause) {
    throw new FileFormatError({ file: path, expected: 'a writable location', problem: `cannot be written (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, cause });
  }
}
