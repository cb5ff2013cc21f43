// Shared vitest settings: workspace packages resolve to their sources, so a test never runs against a stale dist/.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));

export const workspaceAliases: Record<string, string> = {
  '@erase/core': `${packagesDir}core/src/index.ts`,
  '@erase/sampling': `${packagesDir}sampling/src/index.ts`,
  '@erase/eval': `${packagesDir}eval/src/index.ts`,
  '@erase/sd': `${packagesDir}sd/src/index.ts`,
  '@erase/shapes-world': `${packagesDir}shapes-world/src/index.ts`,
  '@erase/methods': `${packagesDir}methods/src/index.ts`,
};

export function packageTestConfig(options: { testTimeout?: number } = {}) {
  return defineConfig({
    resolve: { alias: workspaceAliases },
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: options.testTimeout ?? 180_000,
      hookTimeout: 120_000,
      pool: 'forks',
      fileParallelism: false,
      reporters: ['default'],
    },
  });
}
