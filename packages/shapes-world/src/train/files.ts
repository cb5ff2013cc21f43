/** Small atomic-write helpers for the training outputs (temp file in the same folder, fsync, rename). Node only. */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FileFormatError } from '@erase/core';

/**
 * Writes `text` (UTF-8) to `path` atomically: an existing file is replaced only once the new one is complete.
 * @throws FileFormatError naming `path` when it cannot be written
 */
export function writeTextAtomic(path: string, text: string): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'wx', 0o644);
    const bytes = Buffer.from(text, 'utf8');
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } catch (cause) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // not created, or already renamed
    }
    throw new FileFormatError({ file: path, expected: 'a writable file', problem: `could not be written (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, cause });
  }
}

/** Writes `value` as indented JSON (with a trailing newline) to `path` atomically. @throws FileFormatError */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeTextAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
