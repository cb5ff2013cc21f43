/**
 * Peak wasm heap of one training step of a small conv + GroupNorm + attention UNet, and what the public-API
 * remedies buy. Each configuration runs in a fresh process (the wasm heap only grows, never shrinks):
 *   copy        tfjs's copying wasm `Identity`, `tf.variableGrads` on the whole model
 *   alias       the zero-copy `Identity` registered by this package, `tf.variableGrads`
 *   blockwise   alias + gradients block by block: a tape-free forward keeps only block outputs, then for each block
 *               from the last, one top-level `tf.grads` of ⟨block(x, w), dy⟩ gives dx and the block's dw. Each
 *               call frees its block's saved activations and intermediate gradients when it returns; the price is
 *               a second forward of every block.
 * (A `tf.customGrad` per block that calls `tf.grads` inside its gradient function is not an option in tfjs 4.22:
 * the nested call replaces the engine's active tape and the outer backward pass then fails on a null tape.)
 *
 *   npx tsx bench/training-memory.ts [--batch 4] [--size 32] [--channels 64] [--steps 3]
 *
 * Prints a markdown table: heap before the first step, heap after the steps (its high-water mark), median step
 * time, and the largest relative gradient difference against `alias` (computed in a separate `verify` process).
 */
import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'node:child_process';
import { ensureGradients, Rng } from '@erase/core';
import { useBackend } from '../src/backend/index';
import { setIdentityAlias } from '../src/backend/identity-alias';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type Config = 'copy' | 'alias' | 'blockwise' | 'verify';

function argument(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const B = argument('batch', 4);
const S = argument('size', 32);
const C = argument('channels', 64);
const STEPS = argument('steps', 3);

type Params = Record<string, tf.Variable>;
type Block = { readonly params: readonly string[]; readonly run: (x: tf.Tensor4D, p: Params) => tf.Tensor4D };

function makeParams(rng: Rng): Params {
  const shapes: Record<string, number[]> = {
    convIn: [3, 3, 3, C],
    res1a: [3, 3, C, C],
    res1b: [3, 3, C, C],
    down: [3, 3, C, 2 * C],
    res2a: [3, 3, 2 * C, 2 * C],
    res2b: [3, 3, 2 * C, 2 * C],
    qkv: [2 * C, 6 * C],
    proj: [2 * C, 2 * C],
    up: [3, 3, 2 * C, C],
    out: [3, 3, C, 3],
  };
  const params: Params = {};
  for (const [name, shape] of Object.entries(shapes)) {
    const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    params[name] = tf.variable(rng.normalTensor(shape, 1 / Math.sqrt(fanIn)), true, name);
  }
  return params;
}

function groupNorm(x: tf.Tensor4D, groups: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const grouped = tf.reshape(x, [b, h * w, groups, c / groups]); // [B, HW, G, C/G]
  const { mean, variance } = tf.moments(grouped, [1, 3], true); // [B, 1, G, 1]
  return tf.reshape(tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, 1e-5))), [b, h, w, c]);
}

const silu = (x: tf.Tensor4D): tf.Tensor4D => tf.mul(x, tf.sigmoid(x));
const conv = (x: tf.Tensor4D, w: tf.Variable, stride = 1, pad: 'same' | number[][] = 'same') =>
  tf.conv2d(x, w as unknown as tf.Tensor4D, stride, pad as 'same');

function resnet(x: tf.Tensor4D, a: tf.Variable, b: tf.Variable): tf.Tensor4D {
  const h = conv(silu(groupNorm(x, 8)), a); // [B, H, W, C]
  return tf.add(x, conv(silu(groupNorm(h, 8)), b));
}

function attention(x: tf.Tensor4D, qkvW: tf.Variable, projW: tf.Variable): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const tokens = tf.reshape(groupNorm(x, 8), [b * h * w, c]); // [B·T, C]
  const qkv = tf.reshape(tf.matMul(tokens, qkvW), [b, h * w, 3 * c]); // [B, T, 3C]
  const [q, k, v] = tf.split(qkv, 3, 2) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D]; // 3 x [B, T, C]
  const scores = tf.mul(tf.matMul(q, tf.transpose(k, [0, 2, 1])), 1 / Math.sqrt(c)); // [B, T, T]
  const attended = tf.reshape(tf.matMul(tf.softmax(scores), v), [b * h * w, c]); // [B·T, C]
  return tf.add(x, tf.reshape(tf.matMul(attended, projW), [b, h, w, c]));
}

const BLOCKS: readonly Block[] = [
  { params: ['convIn'], run: (x, p) => conv(x, p.convIn as tf.Variable) },
  { params: ['res1a', 'res1b'], run: (x, p) => resnet(x, p.res1a as tf.Variable, p.res1b as tf.Variable) },
  { params: ['down'], run: (x, p) => conv(x, p.down as tf.Variable, 2, [[0, 0], [0, 1], [0, 1], [0, 0]]) },
  { params: ['res2a', 'res2b'], run: (x, p) => resnet(x, p.res2a as tf.Variable, p.res2b as tf.Variable) },
  { params: ['qkv', 'proj'], run: (x, p) => attention(x, p.qkv as tf.Variable, p.proj as tf.Variable) },
  {
    params: ['up'],
    run: (x, p) => conv(tf.image.resizeNearestNeighbor(x, [x.shape[1] * 2, x.shape[2] * 2]), p.up as tf.Variable),
  },
  { params: ['out'], run: (x, p) => conv(silu(groupNorm(x, 8)), p.out as tf.Variable) },
];

const mse = (y: tf.Tensor, target: tf.Tensor): tf.Scalar => tf.mean(tf.square(tf.sub(y, target)));

/** Gradients of the whole model with one `tf.variableGrads`. */
function wholeGradients(params: Params, x: tf.Tensor4D, target: tf.Tensor4D): Record<string, tf.Tensor> {
  const { value, grads } = tf.variableGrads(() => mse(BLOCKS.reduce((h, block) => block.run(h, params), x), target));
  value.dispose();
  return grads;
}

/** Gradients block by block (see the file header). */
function blockwiseGradients(params: Params, x: tf.Tensor4D, target: tf.Tensor4D): Record<string, tf.Tensor> {
  const activations: tf.Tensor4D[] = [x];
  for (const block of BLOCKS) {
    const input = activations[activations.length - 1] as tf.Tensor4D;
    activations.push(tf.tidy(() => block.run(input, params))); // no tape: nothing saved for backprop
  }
  let dy = tf.grad((y: tf.Tensor) => mse(y, target))(activations[BLOCKS.length] as tf.Tensor);
  const grads: Record<string, tf.Tensor> = {};
  for (let b = BLOCKS.length - 1; b >= 0; b--) {
    const block = BLOCKS[b] as Block;
    const weights = block.params.map((name) => params[name] as tf.Variable);
    const input = activations[b] as tf.Tensor4D;
    const upstream = dy;
    const all = tf.grads((xin: tf.Tensor, ...ws: tf.Tensor[]) => {
      const local: Params = {};
      block.params.forEach((name, i) => (local[name] = ws[i] as tf.Variable));
      return tf.sum(tf.mul(block.run(xin as tf.Tensor4D, local), upstream));
    })([input, ...weights]);
    block.params.forEach((name, i) => (grads[name] = all[i + 1] as tf.Tensor));
    upstream.dispose();
    (activations[b + 1] as tf.Tensor).dispose();
    dy = all[0] as tf.Tensor;
  }
  dy.dispose();
  return grads;
}

function heapBytes(): number {
  return ((tf.backend() as BackendWasm).wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.buffer.byteLength;
}

async function runConfig(config: Config): Promise<void> {
  await ensureGradients();
  await useBackend('wasm', { threads: 1 });
  setIdentityAlias(config !== 'copy');
  const rng = new Rng(5);
  const params = makeParams(rng);
  const x = rng.normalTensor([B, S, S, 3]) as tf.Tensor4D;
  const target = rng.normalTensor([B, S, S, 3]) as tf.Tensor4D;
  if (config === 'verify') {
    const whole = wholeGradients(params, x, target);
    const blockwise = blockwiseGradients(params, x, target);
    let worst = 0;
    for (const name of Object.keys(whole)) {
      const a = (await (blockwise[name] as tf.Tensor).data()) as Float32Array;
      const e = (await (whole[name] as tf.Tensor).data()) as Float32Array;
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < e.length; i++) {
        diff = Math.max(diff, Math.abs((a[i] as number) - (e[i] as number)));
        scale = Math.max(scale, Math.abs(e[i] as number));
      }
      worst = Math.max(worst, diff / scale);
    }
    console.log(JSON.stringify({ config, worstRelativeDiff: worst }));
    return;
  }
  const before = heapBytes();
  const times: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    const start = performance.now();
    const grads = config === 'blockwise' ? blockwiseGradients(params, x, target) : wholeGradients(params, x, target);
    await Promise.all(Object.values(grads).map((g) => g.data())); // finish the step
    times.push(performance.now() - start);
    tf.dispose(Object.values(grads));
  }
  const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)] as number;
  console.log(JSON.stringify({ config, before, after: heapBytes(), stepMs: median, tensors: tf.memory().numTensors }));
}

function spawn(config: Config): Record<string, number> {
  const output = execFileSync(process.execPath, [...process.execArgv, process.argv[1] as string, ...process.argv.slice(2), '--run', config], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = output.trim().split('\n').pop() ?? '{}';
  return JSON.parse(line) as Record<string, number>;
}

const runIndex = process.argv.indexOf('--run');
if (runIndex >= 0) {
  await runConfig(process.argv[runIndex + 1] as Config);
} else {
  const mb = (bytes: number | undefined) => ((bytes ?? NaN) / 2 ** 20).toFixed(0);
  const verify = spawn('verify');
  const rows = (['copy', 'alias', 'blockwise'] as const).map((config) => spawn(config));
  console.log(
    [
      `Training step of a conv + GroupNorm + attention UNet on tfjs-wasm (1 thread): batch ${B}, ${S}×${S}, ` +
        `${C} channels, ${STEPS} steps. Heap = the wasm memory's size (its high-water mark).`,
      '',
      '| configuration | heap before (MiB) | heap after steps (MiB) | step (ms) |',
      '|---|---:|---:|---:|',
      ...rows.map((r, i) => `| ${['copy Identity', 'alias Identity', 'alias + blockwise grads'][i]} | ${mb(r.before)} | ${mb(r.after)} | ${(r.stepMs ?? NaN).toFixed(0)} |`),
      '',
      `Blockwise vs whole-model gradients: max relative difference ${(verify.worstRelativeDiff ?? NaN).toExponential(1)}.`,
    ].join('\n'),
  );
}
