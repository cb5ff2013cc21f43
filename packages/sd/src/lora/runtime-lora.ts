/**
 * Runtime LoRA (Hu et al. 2021, eq. 3): low-rank factors beside frozen Linear weights, applied on the fly in the
 * forward pass (`nn/linear.ts`, and `nn/conv2d.ts` for 1×1 convs, which are Linears over channels — kohya LoRAs adapt
 * SD 1.x's conv `proj_in`/`proj_out`), trainable, fusable into the base weights, and removable.
 *
 * Notation, for the Linear at a module path with base weight W [out, in] (stored tfjs-style as Wᵀ [in, out], or
 * [1, 1, in, out] for a 1×1 conv):
 *   y = W x + b + s · B (A x),   s = adapter.scale · α / r
 *   A = down [r, in] ~ N(0, 1/in) (Kaiming-like, seeded by core's Rng, drawn in module order, row-major),
 *   B = up [out, r] = 0, so a freshly attached adapter leaves the model unchanged (the paper's init; note that
 *   ∂L/∂A = 0 until B moves away from 0). This matches MACE/RealEra's use of rank-1 cross-attention LoRA.
 *   fuse: Wᵀ ← Wᵀ + s · Aᵀ Bᵀ, then detach.
 * File formats are not handled here: see `types.ts` for the canonical map the I/O readers produce.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, Rng, UnsupportedError, WeightKeysError } from '@erase/core';
import type { LoraAdapter, LoraConfig } from '@erase/core';
import type { LinearAdapter } from '../nn/weights';
import type { LoadLoraOptions, LoraLayerWeights, LoraWeights } from './types';

/** A module a LoRA factor pair can attach to: a Linear, or a 1×1 conv (a Linear over channels). */
export interface LinearModuleInfo {
  readonly path: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
}

/** What a model exposes so that LoRA can attach to it. */
export interface LoraHost {
  /** Named in errors. */
  readonly loraSource: string;
  /** Every module that can carry LoRA (Linear and 1×1 conv), in module order. */
  loraLinearModules(): readonly LinearModuleInfo[];
  /** Every module path that holds weights (adaptable or not), to tell "not adaptable" from "unknown". */
  loraModulePaths(): readonly string[];
  /** The base weight variable of an adaptable module, tfjs layout [in, out] (or [1, 1, in, out] for a 1×1 conv). */
  loraBaseWeight(path: string): tf.Variable;
  /** The adapter currently attached, if any. */
  activeLoraAdapter(): RuntimeLoraAdapter | undefined;
  /** Installs (or, with undefined, removes) the adapter consulted by the forward pass. */
  setLoraAdapter(adapter: RuntimeLoraAdapter | undefined): void;
}

interface Layer {
  readonly down: tf.Variable;
  readonly up: tf.Variable;
  /** α / r. */
  readonly factor: number;
  readonly alpha: number;
}

/** A LoRA adapter attached to a `LoraHost` (implements core's `LoraAdapter`). */
export class RuntimeLoraAdapter implements LoraAdapter {
  readonly config: LoraConfig;
  readonly layers: ReadonlyMap<string, { readonly down: tf.Variable; readonly up: tf.Variable }>;
  readonly variables: readonly tf.Variable[];
  /** Multiplier on top of α / r (diffusers' `cross_attention_kwargs.scale`). Read at every forward pass. */
  scale: number;
  private readonly host: LoraHost;
  private readonly detail: ReadonlyMap<string, Layer>;
  private live = true;

  /** @internal use `attachLora` / `loadLora`. */
  constructor(host: LoraHost, config: LoraConfig, layers: ReadonlyMap<string, Layer>, scale: number) {
    this.host = host;
    this.config = config;
    this.detail = layers;
    this.layers = new Map([...layers].map(([path, l]) => [path, { down: l.down, up: l.up }]));
    this.variables = [...layers.values()].flatMap((l) => [l.down, l.up]);
    this.scale = scale;
  }

  /** False after `fuse()` or `detach()`. */
  get attached(): boolean {
    return this.live;
  }

  /** The factors to apply at `modulePath` (consulted by the forward pass), or undefined. */
  adapterFor(modulePath: string): LinearAdapter | undefined {
    if (!this.live) return undefined;
    const layer = this.detail.get(modulePath);
    return layer ? { down: layer.down, up: layer.up, scale: this.scale * layer.factor } : undefined;
  }

  /** Adds `scale · (α/r) · B A` into every base weight, then detaches. @throws InvalidOptionError when already detached. */
  fuse(): void {
    this.assertLive('fuse');
    for (const [path, layer] of this.detail) {
      const weight = this.host.loraBaseWeight(path); // [in, out]
      const s = this.scale * layer.factor;
      tf.tidy(() => {
        const delta = tf.matMul(tf.transpose(layer.down) as tf.Tensor2D, tf.transpose(layer.up) as tf.Tensor2D); // [in, r] x [r, out] -> [in, out]
        weight.assign(tf.add(weight, tf.reshape(tf.mul(delta, s), weight.shape))); // [in, out] (or [1, 1, in, out])
      });
    }
    this.detach();
  }

  /** Removes the adapter and disposes its variables; the base weights are untouched. Idempotent. */
  detach(): void {
    if (!this.live) return;
    this.live = false;
    if (this.host.activeLoraAdapter() === this) this.host.setLoraAdapter(undefined);
    for (const v of this.variables) v.dispose();
  }

  /** The factors in canonical PyTorch layout (copies, read synchronously). @throws InvalidOptionError when detached. */
  exportWeights(): Map<string, LoraLayerWeights> {
    this.assertLive('exportWeights');
    const out = new Map<string, LoraLayerWeights>();
    for (const [path, layer] of this.detail) {
      out.set(path, {
        down: { dtype: 'float32', fileDtype: 'F32', shape: [...layer.down.shape], data: Float32Array.from(layer.down.dataSync() as Float32Array) },
        up: { dtype: 'float32', fileDtype: 'F32', shape: [...layer.up.shape], data: Float32Array.from(layer.up.dataSync() as Float32Array) },
        alpha: layer.alpha,
      });
    }
    return out;
  }

  private assertLive(what: string): void {
    if (!this.live) throw new InvalidOptionError({ option: 'adapter', expected: `an attached adapter for ${what}()`, received: 'a detached adapter' });
  }
}

/** Linear modules whose path equals a target or ends with `.` + target. */
function matches(path: string, target: string): boolean {
  return path === target || path.endsWith(`.${target}`);
}

/**
 * Attaches fresh trainable factors (A ~ N(0, 1/in) from `new Rng(config.seed ?? 0)`, B = 0) to every Linear whose path
 * ends with one of `config.targetModules`.
 * @throws InvalidOptionError for a bad rank/alpha/seed, a target matching nothing, or an adapter already attached;
 *   UnsupportedError when a target matches only modules that are neither Linear nor 1×1 conv (e.g. a 3×3 `conv1`)
 */
export function attachLora(host: LoraHost, config: LoraConfig): RuntimeLoraAdapter {
  assertNoAdapter(host);
  const rank = config.rank;
  if (!Number.isInteger(rank) || rank < 1) throw new InvalidOptionError({ option: 'rank', expected: 'a positive integer', received: rank });
  const alpha = config.alpha ?? rank;
  if (!Number.isFinite(alpha) || alpha <= 0) throw new InvalidOptionError({ option: 'alpha', expected: 'a positive number', received: config.alpha });
  if (!Array.isArray(config.targetModules) || config.targetModules.length === 0 || !config.targetModules.every((t) => typeof t === 'string' && t.length > 0)) {
    throw new InvalidOptionError({ option: 'targetModules', expected: 'a non-empty list of module-name suffixes', received: config.targetModules });
  }
  const linears = host.loraLinearModules();
  const unmatched: string[] = [];
  for (const target of config.targetModules) {
    if (linears.some((m) => matches(m.path, target))) continue;
    const other = host.loraModulePaths().find((p) => matches(p, target));
    if (other) throw new UnsupportedError(`LoRA target "${target}" matches ${other}, which is neither a Linear nor a 1×1 conv; only those can carry LoRA here.`);
    unmatched.push(target);
  }
  if (unmatched.length > 0) {
    throw new InvalidOptionError({ option: 'targetModules', expected: `suffixes of Linear module paths of ${host.loraSource} (e.g. 'attn2.to_k')`, received: unmatched.join(', ') });
  }
  const rng = new Rng(config.seed ?? 0);
  const layers = new Map<string, Layer>();
  for (const m of linears) {
    if (!config.targetModules.some((t) => matches(m.path, t))) continue;
    const std = 1 / Math.sqrt(m.inFeatures);
    const values = new Float32Array(rank * m.inFeatures);
    for (let i = 0; i < values.length; i++) values[i] = std * rng.normal();
    const down = tf.tidy(() => tf.variable(tf.tensor2d(values, [rank, m.inFeatures]), true)); // A [r, in]
    const up = tf.tidy(() => tf.variable(tf.zeros([m.outFeatures, rank]), true)); // B [out, r]
    layers.set(m.path, { down, up, factor: alpha / rank, alpha });
  }
  const adapter = new RuntimeLoraAdapter(host, { ...config, alpha }, layers, 1);
  host.setLoraAdapter(adapter);
  return adapter;
}

/**
 * Attaches given factors (the canonical map of `types.ts`; 1×1-conv factors [r, in, 1, 1] / [out, r, 1, 1] are accepted
 * and stored as matrices). Every problem — unknown or non-adaptable module, wrong shape —
 * is reported in one WeightKeysError (keys named `<module>.lora.down` / `.lora.up`).
 * @throws WeightKeysError; InvalidOptionError for a bad scale/alpha, an empty map, or an adapter already attached
 */
export function loadLora(host: LoraHost, weights: LoraWeights, options: LoadLoraOptions = {}): RuntimeLoraAdapter {
  assertNoAdapter(host);
  const source = options.source ?? 'LoRA weights';
  const scale = options.scale ?? 1;
  if (!Number.isFinite(scale)) throw new InvalidOptionError({ option: 'scale', expected: 'a finite number', received: options.scale });
  if (weights.size === 0) throw new InvalidOptionError({ option: 'weights', expected: 'at least one LoRA layer', received: 'an empty map' });
  const byPath = new Map(host.loraLinearModules().map((m) => [m.path, m]));
  const unexpected: string[] = [];
  const wrongShape: { key: string; expected: readonly number[]; received: readonly number[] }[] = [];
  for (const [path, layer] of weights) {
    const m = byPath.get(path);
    if (!m) {
      unexpected.push(path);
      continue;
    }
    if (layer.down.dtype !== 'float32' || layer.up.dtype !== 'float32') {
      throw new InvalidOptionError({ option: `${path} LoRA factors`, expected: 'float32 tensors', received: `${layer.down.dtype}/${layer.up.dtype}` });
    }
    const down = matrixShape(layer.down.shape);
    const up = matrixShape(layer.up.shape);
    const r = down?.[0] ?? 0;
    if (!down || r < 1 || down[1] !== m.inFeatures) {
      wrongShape.push({ key: `${path}.lora.down`, expected: [Math.max(r, 1), m.inFeatures], received: layer.down.shape });
    }
    if (!up || up[0] !== m.outFeatures || up[1] !== r) {
      wrongShape.push({ key: `${path}.lora.up`, expected: [m.outFeatures, Math.max(r, 1)], received: layer.up.shape });
    }
    for (const [part, factor] of [['down', layer.down], ['up', layer.up]] as const) {
      const size = factor.shape.reduce((a, b) => a * b, 1);
      if (factor.data.length !== size) {
        throw new InvalidOptionError({ option: `${path} LoRA ${part}`, expected: `data of length ${size} for shape [${factor.shape.join(', ')}]`, received: `data of length ${factor.data.length}` });
      }
    }
    if (layer.alpha !== undefined && (!Number.isFinite(layer.alpha) || layer.alpha <= 0)) {
      throw new InvalidOptionError({ option: `${path} alpha`, expected: 'a positive number', received: layer.alpha });
    }
  }
  if (unexpected.length > 0 || wrongShape.length > 0) throw new WeightKeysError({ source, unexpected: unexpected.sort(), wrongShape });

  const trainable = options.trainable ?? true;
  const layers = new Map<string, Layer>();
  try {
    for (const [path, layer] of weights) {
      const downShape = matrixShape(layer.down.shape) as [number, number];
      const upShape = matrixShape(layer.up.shape) as [number, number];
      const r = downShape[0];
      const alpha = layer.alpha ?? r;
      const down = tf.tidy(() => tf.variable(tf.tensor2d(Float32Array.from(layer.down.data), downShape), trainable)); // A [r, in]
      try {
        const up = tf.tidy(() => tf.variable(tf.tensor2d(Float32Array.from(layer.up.data), upShape), trainable)); // B [out, r]
        layers.set(path, { down, up, factor: alpha / r, alpha });
      } catch (error) {
        down.dispose();
        throw error;
      }
    }
  } catch (error) {
    for (const l of layers.values()) {
      l.down.dispose();
      l.up.dispose();
    }
    throw error;
  }
  const first = weights.values().next().value as LoraLayerWeights;
  const rank = (matrixShape(first.down.shape) as [number, number])[0];
  const config: LoraConfig = { rank, ...(first.alpha !== undefined ? { alpha: first.alpha } : {}), targetModules: [...weights.keys()] };
  const adapter = new RuntimeLoraAdapter(host, config, layers, scale);
  host.setLoraAdapter(adapter);
  return adapter;
}

/** [a, b] or [a, b, 1, 1] (a 1×1-conv factor) → [a, b]; anything else → undefined. */
function matrixShape(shape: readonly number[]): [number, number] | undefined {
  if (shape.length === 2 || (shape.length === 4 && shape[2] === 1 && shape[3] === 1)) return [shape[0] as number, shape[1] as number];
  return undefined;
}

function assertNoAdapter(host: LoraHost): void {
  if (host.activeLoraAdapter()) {
    throw new InvalidOptionError({ option: 'lora', expected: `no adapter attached to ${host.loraSource} (call fuse() or detach() first)`, received: 'an attached adapter' });
  }
}
