/**
 * The shipped oracle (weights/oracle/model.safetensors, trained by scripts/train-oracle.ts) on a fixed held-out set
 * of procedural images it never saw (a seed outside the training script's streams): the issue asks for ≥ 98% top-1.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shapesWorldOracleWeightsPath } from '../assets';
import { generateShapes } from '../generator/generate';
import { evaluateAccuracy } from './accuracy';
import { loadOracle } from './oracle-weights';
import type { OracleClassifier } from './oracle-cnn';

describe('shipped oracle', () => {
  let oracle: OracleClassifier;
  beforeAll(async () => {
    await tf.setBackend('wasm');
    oracle = loadOracle(shapesWorldOracleWeightsPath());
  });
  afterAll(() => oracle.dispose());

  it('classifies ≥ 98% of 1,000 held-out procedural images correctly, every class ≥ 90%', async () => {
    const heldOut = generateShapes({ count: 1000, seed: 20261123 });
    const before = tf.memory().numTensors;
    const report = await evaluateAccuracy(oracle, heldOut);
    expect(tf.memory().numTensors).toBe(before);
    expect(report.accuracy).toBeGreaterThanOrEqual(0.98);
    for (const perClass of report.perClass) expect(perClass).toBeGreaterThanOrEqual(0.9);
  });
});
