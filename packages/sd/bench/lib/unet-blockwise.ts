/**
 * A UNet forward pass part by part, with each part's weights uploaded to the backend just before it runs and freed
 * after: how SD 1.x's 3.4 GB fp32 UNet can be timed on wasm, whose 4 GiB heap cannot hold it with its activations.
 *
 * Notation as in `src/unet/unet-2d-condition.ts`: z [B, H, W, Cin] latents, t [B] timesteps, ctx [B, T, D] context;
 *   part 0  emb = time_embedding(time_proj(t)), h = conv_in(z)               skips = [h]
 *   down i  h, s = down_blocks.i(h, emb, ctx)                                  skips += s
 *   mid     h = mid_block(h, emb, ctx)
 *   up i    h = up_blocks.i(h, skips.pop(#resnets), emb, ctx)
 *   out     ε = conv_out(SiLU(conv_norm_out(h)))
 * Each part runs on the real outputs of the part before, so every input has the shape it has inside the UNet.
 * Each part is timed on its own (`warmup` untimed runs on `warmupView`s of its inputs — one sample, a quarter of
 * the map, enough for XNNPACK to pack the weights — then `reps` timed runs, weights already uploaded); the sum of
 * the medians is the forward pass without uploads. Upload time (host layout change + copy) is reported apart.
 */
import * as tf from '@tensorflow/tfjs-core';
import { silu } from '../../src/nn/activations';
import { conv2dModule } from '../../src/nn/conv2d';
import { groupNormModule } from '../../src/nn/norm';
import { timestepEmbedding, timestepMlp } from '../../src/nn/timestep-embedding';
import { defaultTorchLayout, mapWeights, torchToTfData, type ModuleWeights } from '../../src/nn/weights';
import { downBlock, midBlock, upBlock, type BlockSettings } from '../../src/unet/blocks';
import type { UNet2DConditionConfig } from '../../src/unet/config';
import { planUNet, unetWeightShapes } from '../../src/unet/layout';
import { randomHostWeights } from './random-weights';
import { median, timeRuns, warmupView, wasmHeapBytes } from './timing';

/** One part's measurement. */
export interface PartTiming {
  readonly part: string;
  /** Timed runs, ms. */
  readonly times: number[];
  readonly medianMs: number;
  /** Host conversion + upload of the part's weights, ms. */
  readonly uploadMs: number;
  readonly params: number;
  /** wasm heap size after the part (undefined off wasm). */
  readonly heapBytes: number | undefined;
}

/** Inputs of `timeUNetBlockwise`; the caller owns (and disposes) them. */
export interface BlockwiseInputs {
  readonly latents: tf.Tensor4D;
  readonly timesteps: tf.Tensor1D;
  readonly context: tf.Tensor3D;
}

/** Times every part of the UNet of `config` with random weights from `seed` (see the file header). */
export async function timeUNetBlockwise(config: UNet2DConditionConfig, inputs: BlockwiseInputs, warmup: number, reps: number, seed: number): Promise<PartTiming[]> {
  const plan = planUNet(config);
  const shapes = unetWeightShapes(config, plan);
  const host = randomHostWeights(shapes, seed);
  const settings: BlockSettings = {
    groups: config.normNumGroups,
    eps: config.normEps,
    resnetOutScaleFactor: config.resnetOutScaleFactor,
    midBlockScaleFactor: config.midBlockScaleFactor,
    downsamplePadding: config.downsamplePadding,
  };
  const results: PartTiming[] = [];

  /** Identity view for timed runs; `run` reads every input through the view it is given. */
  const same = <T extends tf.Tensor>(t: T): T => t;
  type View = typeof same;

  /** Uploads the weights under `prefixes`, warms up and times `run` (outputs of all but the last run disposed), frees the weights. */
  const part = async <T extends tf.Tensor | tf.Tensor[]>(name: string, prefixes: readonly string[], run: (w: ModuleWeights, view: View) => T): Promise<T> => {
    const uploadStart = performance.now();
    const tensors = new Map<string, tf.Tensor>();
    let params = 0;
    for (const [key, shape] of shapes) {
      if (!prefixes.some((p) => key.startsWith(p))) continue;
      const h = host.get(key);
      if (h === undefined) continue;
      const { shape: tfShape, data } = torchToTfData(h, defaultTorchLayout(shape));
      tensors.set(key, tf.tensor(data, tfShape, 'float32'));
      params += data.length;
    }
    const uploadMs = performance.now() - uploadStart;
    const weights = mapWeights(tensors, `random ${name} weights`);
    for (let i = 0; i < warmup; i++) tf.tidy(() => void run(weights, warmupView));
    let last: T | undefined;
    const times = await timeRuns(() => {
      if (last !== undefined) tf.dispose(last);
      last = run(weights, same);
    }, 0, reps);
    tf.dispose([...tensors.values()]);
    results.push({ part: name, times, medianMs: median(times), uploadMs, params, heapBytes: wasmHeapBytes() });
    return last as T;
  };

  const { latents, timesteps, context } = inputs;
  const c0 = config.blockOutChannels[0] as number;
  const [emb, conv] = await part('conv_in + time_embedding', ['conv_in.', 'time_embedding.'], (w, v) =>
    tf.tidy(() => {
      const tProj = timestepEmbedding(v(timesteps), c0, { flipSinToCos: config.flipSinToCos, freqShift: config.freqShift }); // [B, C0]
      const e = timestepMlp(w, 'time_embedding', tProj, silu); // [B, C0] -> [B, E]
      return [e, conv2dModule(w, 'conv_in', v(latents), { padding: (config.convInKernel - 1) / 2 })]; // [B, H, W, C0]
    }),
  ) as [tf.Tensor2D, tf.Tensor4D];
  let h: tf.Tensor4D = conv;
  const skips: tf.Tensor4D[] = [conv];
  for (const [i, block] of plan.down.entries()) {
    const input = h;
    const out = await part(`down_blocks.${i}`, [`${block.path}.`], (w, v) => downBlock(w, block, v(input), v(emb), v(context), settings).skips); // each [B, H_i, W_i, C_i]
    skips.push(...out);
    h = out[out.length - 1] as tf.Tensor4D; // the block's output is its last skip
  }
  const factor = 2 ** plan.numUpsamplers;
  const oddSize = latents.shape[1] % factor !== 0 || latents.shape[2] % factor !== 0; // upsample to the skip's size
  const isSkip = (t: tf.Tensor): boolean => skips.includes(t as tf.Tensor4D);
  if (plan.mid) {
    const mid = plan.mid;
    const input = h;
    h = await part('mid_block', ['mid_block.'], (w, v) => midBlock(w, mid, v(input), v(emb), v(context), settings)); // [B, h, w, C]
    if (!isSkip(input)) input.dispose();
  }
  for (const [i, block] of plan.up.entries()) {
    const consumed = skips.splice(skips.length - block.resnets.length, block.resnets.length);
    const next = skips[skips.length - 1];
    const size = i < plan.up.length - 1 && oddSize && next ? ([next.shape[1], next.shape[2]] as [number, number]) : undefined;
    const input = h;
    h = await part(`up_blocks.${i}`, [`${block.path}.`], (w, v) =>
      upBlock(w, block, v(input), consumed.map((c) => v(c)), v(emb), v(context), settings, size && v === same ? size : undefined),
    ); // [B, H_i, W_i, C_i]
    if (!isSkip(input) && !consumed.includes(input)) input.dispose();
    tf.dispose(consumed);
  }
  const final = h;
  const eps = await part('conv_norm_out + conv_out', ['conv_norm_out.', 'conv_out.'], (w, v) =>
    tf.tidy(() => {
      const normed = groupNormModule(w, 'conv_norm_out', v(final), config.normNumGroups, config.normEps); // [B, H, W, C0]
      return conv2dModule(w, 'conv_out', silu(normed) as tf.Tensor4D, { padding: (config.convOutKernel - 1) / 2 }); // [B, H, W, Cout]
    }),
  );
  const finite = tf.tidy(() => tf.all(tf.isFinite(eps)).dataSync()[0] === 1);
  tf.dispose([eps, final, emb, ...skips]);
  if (!finite) throw new Error('the blockwise UNet produced non-finite values');
  return results;
}
