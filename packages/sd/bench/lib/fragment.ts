/**
 * Writes a benchmark's markdown fragment to `docs/benchmarks/<name>` atomically (temp file + rename), creating the
 * folder when needed. docs/benchmarks.md (owned by the integrator) links the fragments.
 */
import { mkdirSync } from 'node:fs';
import { isAbsolute, join, dirname } from 'node:path';
import { writeTextFileAtomic } from '@erase/core';
import { FRAGMENTS_DIR } from './configs';

/**
 * Writes `markdown` to `target`: a file name inside docs/benchmarks/, or an absolute path (`--out`).
 * @returns the path written
 * @throws FileFormatError when the location cannot be written
 */
export function writeFragment(target: string, markdown: string): string {
  const path = isAbsolute(target) ? target : join(FRAGMENTS_DIR, target);
  mkdirSync(dirname(path), { recursive: true });
  writeTextFileAtomic(path, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
  return path;
}
