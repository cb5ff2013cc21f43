/**
 * The dependency direction (methods → sampling → core ← sd; eval → core; methods' algorithms never see sd — only its src/io and src/cli do) is enforced by scripts/check-deps.mjs,
 * which every package's `lint` runs. This test runs it for the model-agnostic packages as part of the suite, and
 * checks that it does catch a violation.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const script = join(root, 'scripts/check-deps.mjs');

function check(cwd: string): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, [script], { cwd, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('dependency direction', () => {
  it.each(['core', 'sampling', 'eval', 'methods'])('@erase/%s respects the dependency direction', (name) => {
    const result = check(join(root, 'packages', name));
    expect(result.status, result.output).toBe(0);
  });

  it('reports an import of @erase/sd from a model-agnostic package', () => {
    const dir = mkdtempSync(join(tmpdir(), 'erase-deps-'));
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: '@erase/sampling', dependencies: {} }));
    writeFileSync(join(dir, 'src/x.ts'), "import { UNet2DConditionModel } from '@erase/sd';\n");
    const result = check(dir);
    expect(result.status).toBe(1);
    expect(result.output).toContain('src/x.ts imports @erase/sd');
  });

  it("reports an import of @erase/sd from methods' algorithm code, and allows it under src/io and src/cli", () => {
    const dir = mkdtempSync(join(tmpdir(), 'erase-deps-'));
    mkdirSync(join(dir, 'src/esd'), { recursive: true });
    mkdirSync(join(dir, 'src/cli'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: '@erase/methods', dependencies: { '@erase/sd': 'workspace:*' } }));
    writeFileSync(join(dir, 'src/cli/main.ts'), "import { StableDiffusion } from '@erase/sd';\n");
    expect(check(dir).status).toBe(0);
    writeFileSync(join(dir, 'src/esd/esd.ts'), "import { textToImage } from '@erase/sd';\n");
    const result = check(dir);
    expect(result.status).toBe(1);
    expect(result.output).toContain('src/esd/esd.ts imports @erase/sd');
  });
});
