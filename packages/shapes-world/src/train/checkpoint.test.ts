import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointPaths, loadCheckpoint, saveCheckpoint, type CheckpointState } from './checkpoint';

const root = mkdtempSync(join(tmpdir(), 'shapes-checkpoint-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeAll(async () => {
  await tf.setBackend('cpu');
});

const state = (step: number): CheckpointState => ({ step, adamStep: step, settings: { seed: 1 }, lossCurve: [], window: { sum: 0, count: 0 }, seconds: step });
async function save(dir: string, step: number): Promise<void> {
  const t = tf.fill([2], step);
  const group = new Map([['unet/w', t]]);
  await saveCheckpoint(dir, { params: group, ema: group, adamM: group, adamV: group }, state(step));
  t.dispose();
}

describe('training checkpoints', () => {
  it('keep one tensors file, named by checkpoint.json, and load the step it names', async () => {
    const dir = join(root, 'a');
    await save(dir, 1);
    await save(dir, 2);
    expect(readdirSync(dir).sort()).toEqual(['checkpoint-2.safetensors', 'checkpoint.json']);
    const loaded = loadCheckpoint(dir);
    expect(loaded.state.step).toBe(2);
    expect(Array.from(loaded.params.get('unet/w')?.data ?? [])).toEqual([2, 2]);
  });

  it('a save killed after writing its tensors (before the JSON) leaves the previous checkpoint loadable', async () => {
    const dir = join(root, 'b');
    await save(dir, 1);
    // what a kill between the two writes leaves: step 2's tensors, checkpoint.json still naming step 1's
    const other = join(root, 'scratch');
    await save(other, 2);
    copyFileSync(join(other, 'checkpoint-2.safetensors'), join(dir, 'checkpoint-2.safetensors'));
    expect(loadCheckpoint(dir).state.step).toBe(1);
    await save(dir, 3); // the next save clears the orphan
    expect(readdirSync(dir).sort()).toEqual(['checkpoint-3.safetensors', 'checkpoint.json']);
  });

  it('reads a checkpoint written before the tensors file was named (checkpoint.safetensors)', async () => {
    const dir = join(root, 'c');
    await save(dir, 4);
    const paths = checkpointPaths(dir);
    copyFileSync(paths.tensors, join(dir, 'checkpoint.safetensors'));
    rmSync(paths.tensors);
    const { tensors: _unused, ...legacy } = JSON.parse(readFileSync(paths.state, 'utf8')) as Record<string, unknown>;
    writeFileSync(paths.state, JSON.stringify(legacy));
    expect(checkpointPaths(dir).tensors).toBe(join(dir, 'checkpoint.safetensors'));
    expect(loadCheckpoint(dir).state.step).toBe(4);
  });
});
