/**
 * Parity fixtures live outside the repository (../shared/fixtures). A parity suite skips, with a printed notice,
 * when they are absent on a developer machine, and fails when `process.env.CI` is set.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir } from './parity';

/** The fixture path, or undefined (after printing why) when absent outside CI. @throws Error in CI when absent. */
export function optionalFixture(...parts: string[]): string | undefined {
  const dir = fixturesDir();
  const path = dir === undefined ? undefined : join(dir, ...parts);
  if (path !== undefined && existsSync(path)) return path;
  const message = `parity fixtures not found (${parts.join('/')} under ../shared/fixtures or $ERASE_FIXTURES)`;
  if (process.env.CI) throw new Error(`${message}; they are required when CI is set.`);
  console.warn(`[skipped] ${message}: parity tests are skipped.`);
  return undefined;
}
