/** useBackend: names, option checks, missing optional peers, and tfjs-cpu's Node banner. */
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackendUnavailableError, InvalidOptionError } from '@erase/core';
import { BACKEND_NAMES, useBackend, type BackendName } from '../../src/backend/index';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('useBackend', () => {
  it('selects cpu without printing tfjs-cpu\'s "install our node backend" banner', async () => {
    const warn = vi.spyOn(console, 'warn');
    const log = vi.spyOn(console, 'log');
    const info = await useBackend('cpu');
    expect(info).toEqual({ name: 'cpu', tfjsName: 'cpu', threads: 1, simd: false });
    expect(tf.getBackend()).toBe('cpu');
    const y = tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])); // the cpu backend's first writes
    expect(Array.from(await y.data())).toEqual([4, 6]);
    y.dispose();
    const printed = [...warn.mock.calls, ...log.mock.calls].flat().join('\n');
    expect(printed).not.toMatch(/install our node backend/);
    expect(tf.env().getBool('PROD')).toBe(false); // restored
  });

  it('rejects an unknown name with InvalidOptionError listing the valid ones', async () => {
    const error = await useBackend('webgl' as BackendName).catch((e: unknown) => e);
    expect(InvalidOptionError.isInstance(error)).toBe(true);
    for (const name of BACKEND_NAMES) expect((error as Error).message).toContain(`'${name}'`);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects threads = %s', async (threads) => {
    const error = await useBackend('wasm', { threads }).catch((e: unknown) => e);
    expect(InvalidOptionError.isInstance(error)).toBe(true);
    expect((error as InvalidOptionError).option).toBe('threads');
  });

  it('says that threads apply to wasm only', async () => {
    const warnings: string[] = [];
    await useBackend('cpu', { threads: 2, warn: (m) => warnings.push(m) });
    expect(warnings).toEqual(["useBackend('cpu'): the `threads` option applies to wasm only and is ignored."]);
  });

  it.each([
    ['tensorflow', '@tensorflow/tfjs-node'],
    ['tensorflow-gpu', '@tensorflow/tfjs-node-gpu'],
    ['webgpu', '@tensorflow/tfjs-backend-webgpu'],
  ] as const)('throws BackendUnavailableError naming the package when %s is missing', async (name, packageName) => {
    const error = await useBackend(name).catch((e: unknown) => e);
    expect(BackendUnavailableError.isInstance(error)).toBe(true);
    const unavailable = error as BackendUnavailableError;
    expect(unavailable.backend).toBe(name);
    expect(unavailable.packageName).toBe(packageName);
    expect(unavailable.message).toContain(`npm install ${packageName}`);
    expect(unavailable.message).toMatch(/is not installed/);
    expect(tf.getBackend()).toBe('cpu'); // the active backend is unchanged
  });
});

// Last in the file: it leaves this module's record of who provides tfjs's 'tensorflow' backend set.
describe("a 'tensorflow' backend registered outside useBackend", () => {
  it('is recognised as tfjs-node (CPU) by the path Node loaded it from, so tensorflow-gpu is refused, not silently run on CPU', async () => {
    const { createRequire } = await import('node:module');
    const { MathBackendCPU } = await import('@tensorflow/tfjs-backend-cpu');
    const cache = createRequire(import.meta.url).cache;
    const fakePath = '/somewhere/node_modules/@tensorflow/tfjs-node/dist/index.js'; // what `import '@tensorflow/tfjs-node'` leaves
    cache[fakePath] = { id: fakePath, filename: fakePath, loaded: true, exports: {} } as unknown as NonNullable<(typeof cache)[string]>;
    tf.registerBackend('tensorflow', () => new MathBackendCPU()); // stands in for tfjs-node's backend
    try {
      const refused = await useBackend('tensorflow-gpu').catch((e: unknown) => e);
      expect(BackendUnavailableError.isInstance(refused)).toBe(true);
      expect((refused as BackendUnavailableError).message).toMatch(/already provided by @tensorflow\/tfjs-node in this process/);
      expect(tf.getBackend()).toBe('cpu');
      const info = await useBackend('tensorflow'); // the package that is loaded is used as such
      expect(info).toEqual({ name: 'tensorflow', tfjsName: 'tensorflow', threads: null, simd: null });
    } finally {
      await tf.setBackend('cpu');
      tf.removeBackend('tensorflow');
      delete cache[fakePath];
    }
  });
});
