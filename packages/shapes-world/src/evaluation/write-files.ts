/** Atomic writes of the measurement's outputs (a temp file in the same folder, then rename). Node only. */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FileFormatError } from '@erase/core';

/**
 * Writes `data` (UTF-8 text or bytes) to `path` atomically, creating the folder: a reader sees the old file or the
 * whole new one, never a part.
 * @throws FileFormatError naming `path` when it cannot be written.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const folder = dirname(path);
  const temp = join(folder, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    mkdirSync(folder, { recursive: true });
    writeFileSync(temp, data, { flag: 'wx' });
    renameSync(temp, path);
  } catch (cause) {
    rmSync(temp, { force: true });
    throw new FileFormatError({ file: path, expected: 'a writable file', problem: `could not be written (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, cause });
  }
}
