/**
 * When the threaded start fails (here: every worker imports a module script that throws), the wasm backend falls
 * back to one thread with a warning that says why, instead of crashing the process (own process: wasm is a
 * singleton, and the failure is remembered for the rest of the process).
 */
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startWasmBackend } from '../../src/backend/wasm-threads';
import { useBackend } from '../../src/backend/index';

const brokenModule = fileURLToPath(new URL('./fixtures/broken-wasm-module.js', import.meta.url));

describe('wasm threads fallback', () => {
  it('warns and runs one thread when the workers fail to load', async () => {
    const warnings: string[] = [];
    const started = await startWasmBackend({
      threads: 2,
      warn: (m) => warnings.push(m),
      files: { mainScript: brokenModule },
    });
    expect(started.threads).toBe(1);
    expect(getThreadsCount()).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/could not start 2 threads in Node \(a worker failed to load: .*broken wasm module script/);
    expect(warnings[0]).toMatch(/continuing with 1 thread/);
    expect(tf.getBackend()).toBe('wasm');
    const y = tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4]));
    expect(Array.from(await y.data())).toEqual([4, 6]);
    y.dispose();
  });

  it('does not retry a failed threaded start', async () => {
    const warnings: string[] = [];
    const info = await useBackend('wasm', { threads: 2, warn: (m) => warnings.push(m) });
    expect(info.threads).toBe(1);
    expect(warnings).toEqual([]);
  });
});
