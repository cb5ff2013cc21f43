/**
 * diffusers' `UNet2DConditionModel` (SD 1.x / 2.x) on TensorFlow.js, channels-last — the noise predictor ε_θ(z_t, t, c)
 * of Rombach et al. 2022 (eq. 2), implementing core's `NoisePredictor`.
 *
 * Notation: z [B, H, W, Cin] latents; t [B] timesteps (fractional allowed); c [B, T, D] text context.
 *   e_t   = time_proj(t)                 sinusoidal, [B, C0]            ("time_proj")
 *   emb   = time_embedding(e_t)          linear_1 → SiLU → linear_2, [B, E] ("time_embedding")
 *   h     = conv_in(z)                   [B, H, W, C0]                  ("conv_in")
 *   h, skips = down blocks; h = mid block; h = up blocks (consuming skips)  ("down_blocks_i", "mid_block", "up_blocks_i")
 *   ε     = conv_out(SiLU(conv_norm_out(h)))   [B, H, W, Cout]          ("conv_norm_out", "conv_out")
 * Weights are tf.Variables keyed by diffusers state-dict names in tfjs layouts ([in, out], [kh, kw, in, out]).
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { FileFormatError, InvalidOptionError, ShapeMismatchError, UnsupportedError } from '@erase/core';
import type { CrossAttentionSite, LoraAdapter, LoraConfig, NoisePredictor } from '@erase/core';
import { loadPretrainedComponent, type PretrainedOptions } from '../io/pretrained';
import type { HostTensor } from '../io/safetensors';
import { checkWeightKeys } from '../io/weight-keys';
import { attachLora, loadLora } from '../lora/runtime-lora';
import type { LinearModuleInfo, LoraHost, RuntimeLoraAdapter } from '../lora/runtime-lora';
import type { LoadLoraOptions, LoraLayerWeights, LoraWeights } from '../lora/types';
import { silu } from '../nn/activations';
import { conv2dModule } from '../nn/conv2d';
import { groupNormModule } from '../nn/norm';
import { timestepEmbedding, timestepMlp } from '../nn/timestep-embedding';
import { defaultTorchLayout, mapWeights, tensorToTorch, variableFromTorch } from '../nn/weights';
import type { ModuleWeights, WeightShapes } from '../nn/weights';
import { downBlock, midBlock, upBlock } from './blocks';
import type { BlockSettings } from './blocks';
import { parseUNetConfig } from './config';
import type { UNet2DConditionConfig } from './config';
import { UNetCrossAttentionSite } from './cross-attention-site';
import { planUNet, unetWeightShapes } from './layout';
import type { UNetPlan } from './layout';

/** Options of `fromWeights` / `fromPretrained`. */
export interface UNetLoadOptions {
  /** Named in errors; default 'UNet weights' (fromPretrained: the safetensors path). */
  readonly source?: string;
  /** Make the base weights trainable (optimizers' default var list); default false. */
  readonly trainable?: boolean;
}

/** Named debug outputs of one forward pass (see the file comment); NHWC for maps, [B, ·] for time tensors. */
export type UNetIntermediates = Map<string, tf.Tensor>;

/** SD's UNet. Owns its variables: call `dispose()` when done. */
export class UNet2DConditionModel implements NoisePredictor, LoraHost {
  readonly config: UNet2DConditionConfig;
  readonly loraSource: string;
  private readonly plan: UNetPlan;
  private readonly shapes: WeightShapes;
  private readonly vars: Map<string, tf.Variable>;
  private readonly weights: ModuleWeights;
  private adapter: RuntimeLoraAdapter | undefined;

  private constructor(config: UNet2DConditionConfig, vars: Map<string, tf.Variable>, source: string) {
    this.config = config;
    this.loraSource = source;
    this.plan = planUNet(config);
    this.shapes = unetWeightShapes(config, this.plan);
    this.vars = vars;
    this.weights = mapWeights(vars, source, (path) => this.adapter?.adapterFor(path));
  }

  /**
   * Builds the model from PyTorch-layout weights (diffusers state-dict names). Every missing, unexpected or wrongly
   * shaped key is reported at once. Weights are copied; `weights` can be dropped afterwards.
   * @throws WeightKeysError; FileFormatError naming `source` and the key for non-float weights
   */
  static fromWeights(config: UNet2DConditionConfig, weights: ReadonlyMap<string, HostTensor>, options: UNetLoadOptions = {}): UNet2DConditionModel {
    const source = options.source ?? 'UNet weights';
    const shapes = unetWeightShapes(config);
    checkWeightKeys(source, shapes, weights);
    const vars = new Map<string, tf.Variable>();
    try {
      for (const key of shapes.keys()) {
        const host = weights.get(key) as HostTensor;
        if (host.dtype !== 'float32') throw new FileFormatError({ file: source, expected: 'floating-point weights', problem: `${key} is stored as ${host.fileDtype}` });
        vars.set(key, variableFromTorch(host, defaultTorchLayout(host.shape), options.trainable ?? false));
      }
    } catch (error) {
      for (const v of vars.values()) v.dispose();
      throw error;
    }
    return new UNet2DConditionModel(config, vars, source);
  }

  /**
   * Loads a diffusers `unet` folder: `config.json` + `diffusion_pytorch_model[.variant].safetensors` or sharded
   * weights; `options.backend` selects the tfjs backend first.
   * @throws FileFormatError naming a missing or malformed file; UnsupportedError for pickle-only folders;
   *   WeightKeysError as above
   */
  static async fromPretrained(dir: string, options: UNetLoadOptions & PretrainedOptions = {}): Promise<UNet2DConditionModel> {
    const parse = (raw: Record<string, unknown>): UNet2DConditionConfig => parseUNetConfig(raw, join(dir, 'config.json'));
    const loaded = await loadPretrainedComponent(dir, options, parse); // the config is checked before weights are read
    const config = parse(loaded.config);
    return UNet2DConditionModel.fromWeights(config, loaded.weights, { ...options, source: options.source ?? loaded.files[0] });
  }

  /** Every state-dict key and its PyTorch-layout shape for `config`, in diffusers' module order. */
  static expectedWeightShapes(config: UNet2DConditionConfig): Map<string, number[]> {
    return unetWeightShapes(config);
  }

  /** This model's expected keys and PyTorch-layout shapes (a copy). */
  expectedWeightShapes(): Map<string, number[]> {
    return new Map([...this.shapes].map(([k, s]) => [k, [...s]]));
  }

  /** The weights in PyTorch layout (host copies, read synchronously), e.g. to save an edited model. */
  exportWeights(): Map<string, HostTensor> {
    const out = new Map<string, HostTensor>();
    for (const [key, variable] of this.vars) out.set(key, tensorToTorch(variable, defaultTorchLayout(variable.shape)));
    return out;
  }

  get inChannels(): number {
    return this.config.inChannels;
  }

  get sampleSize(): number {
    return this.config.sampleSize;
  }

  /** D of the context; SD uses one value for every block. */
  get contextDim(): number {
    return this.config.crossAttentionDim[0] as number;
  }

  /** The base weights (tfjs layouts), keyed by diffusers names. Owned by the model. */
  parameters(): ReadonlyMap<string, tf.Variable> {
    return this.vars;
  }

  /**
   * ε prediction. latents float32 [B, H, W, Cin]; timesteps a number, or float32/int32 [B] or [1]; context [B, T, D]
   * → float32 [B, H, W, Cout]. The caller owns the result; inputs are not disposed. Differentiable w.r.t. the
   * variables (no data is read back during the pass).
   * @throws ShapeMismatchError / InvalidOptionError for inputs that do not fit the model
   */
  predict(latents: tf.Tensor4D, timesteps: number | tf.Tensor1D, context: tf.Tensor3D): tf.Tensor4D {
    return this.forward(latents, timesteps, context, undefined);
  }

  /**
   * `predict` plus named intermediates (`conv_in`, `time_proj`, `time_embedding`, `down_blocks_i`, `mid_block`,
   * `up_blocks_i`, `conv_norm_out`, `conv_out`) for parity debugging. The caller owns every returned tensor.
   */
  predictWithIntermediates(latents: tf.Tensor4D, timesteps: number | tf.Tensor1D, context: tf.Tensor3D): { out: tf.Tensor4D; intermediates: UNetIntermediates } {
    const intermediates: UNetIntermediates = new Map();
    const out = this.forward(latents, timesteps, context, intermediates);
    return { out, intermediates };
  }

  /** Every `attn2`, in diffusers' module order (down blocks, up blocks, mid block). */
  crossAttentionSites(): readonly CrossAttentionSite[] {
    const blocks = [...this.plan.down, ...this.plan.up, ...(this.plan.mid ? [this.plan.mid] : [])];
    const sites: CrossAttentionSite[] = [];
    for (const block of blocks) {
      for (const t of block.attentions) {
        for (let j = 0; j < t.layers; j++) {
          const path = `${t.path}.transformer_blocks.${j}.attn2`;
          sites.push(new UNetCrossAttentionSite(path, t.heads, t.channels, t.contextDim, (key) => this.variable(key)));
        }
      }
    }
    return sites;
  }

  /** Attaches fresh trainable LoRA factors (see `lora/runtime-lora.ts`: A ~ N(0, 1/in) from Rng(seed ?? 0), B = 0). */
  attachLora(config: LoraConfig): LoraAdapter {
    return attachLora(this, config);
  }

  /** Attaches given LoRA factors (canonical map from the I/O layer's readers). */
  loadLora(weights: LoraWeights, options: LoadLoraOptions = {}): LoraAdapter {
    return loadLora(this, weights, { ...options, source: options.source ?? `LoRA for ${this.loraSource}` });
  }

  /** The attached adapter's factors in canonical form. @throws InvalidOptionError when none is attached. */
  exportLora(): Map<string, LoraLayerWeights> {
    if (!this.adapter) throw new InvalidOptionError({ option: 'lora', expected: 'an attached LoRA adapter', received: 'none' });
    return this.adapter.exportWeights();
  }

  /** The attached adapter, if any. */
  get lora(): LoraAdapter | undefined {
    return this.adapter;
  }

  /** Frees every variable (and the attached adapter's). The model is unusable afterwards. */
  dispose(): void {
    this.adapter?.detach();
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }

  // ---- LoraHost ----
  /** @internal */
  loraLinearModules(): readonly LinearModuleInfo[] {
    const out: LinearModuleInfo[] = [];
    for (const [key, shape] of this.shapes) {
      const adaptable = shape.length === 2 || (shape.length === 4 && shape[2] === 1 && shape[3] === 1); // Linear or 1×1 conv
      if (key.endsWith('.weight') && adaptable) out.push({ path: key.slice(0, -'.weight'.length), inFeatures: shape[1] as number, outFeatures: shape[0] as number });
    }
    return out;
  }
  /** @internal */
  loraModulePaths(): readonly string[] {
    return [...this.shapes.keys()].filter((k) => k.endsWith('.weight')).map((k) => k.slice(0, -'.weight'.length));
  }
  /** @internal */
  loraBaseWeight(path: string): tf.Variable {
    return this.variable(`${path}.weight`);
  }
  /** @internal */
  activeLoraAdapter(): RuntimeLoraAdapter | undefined {
    return this.adapter;
  }
  /** @internal */
  setLoraAdapter(adapter: RuntimeLoraAdapter | undefined): void {
    this.adapter = adapter;
  }

  private variable(key: string): tf.Variable {
    const v = this.vars.get(key);
    if (!v) throw new UnsupportedError(`${this.loraSource}: no weight "${key}" (was the model disposed?).`);
    return v;
  }

  private forward(latents: tf.Tensor4D, timesteps: number | tf.Tensor1D, context: tf.Tensor3D, collect: UNetIntermediates | undefined): tf.Tensor4D {
    this.validate(latents, timesteps, context);
    const cfg = this.config;
    const w = this.weights;
    const settings: BlockSettings = {
      groups: cfg.normNumGroups,
      eps: cfg.normEps,
      resnetOutScaleFactor: cfg.resnetOutScaleFactor,
      midBlockScaleFactor: cfg.midBlockScaleFactor,
      downsamplePadding: cfg.downsamplePadding,
    };
    const keep = (name: string, t: tf.Tensor): void => {
      if (collect) collect.set(name, tf.keep(tf.clone(t)));
    };
    return tf.tidy(() => {
      const [b, height, width] = latents.shape;
      const t = typeof timesteps === 'number'
        ? tf.fill([b], timesteps, 'float32') // [B]
        : timesteps.shape[0] === b ? timesteps : tf.tile(timesteps, [b]); // [1] -> [B]
      const tProj = timestepEmbedding(t as tf.Tensor1D, cfg.blockOutChannels[0] as number, { flipSinToCos: cfg.flipSinToCos, freqShift: cfg.freqShift }); // [B, C0]
      keep('time_proj', tProj);
      const emb = timestepMlp(w, 'time_embedding', tProj, silu); // [B, C0] -> [B, E]
      keep('time_embedding', emb);

      const z = cfg.centerInputSample ? (tf.sub(tf.mul(latents, 2), 1) as tf.Tensor4D) : latents; // [B, H, W, Cin]
      const pad = (cfg.convInKernel - 1) / 2;
      let h = conv2dModule(w, 'conv_in', z, { padding: pad }); // [B, H, W, Cin] -> [B, H, W, C0]
      keep('conv_in', h);

      const skips: tf.Tensor4D[] = [h];
      this.plan.down.forEach((block, i) => {
        const result = downBlock(w, block, h, emb, context, settings); // [B, H_i, W_i, C_i]
        h = result.h;
        skips.push(...result.skips);
        keep(`down_blocks_${i}`, h);
      });
      if (this.plan.mid) {
        h = midBlock(w, this.plan.mid, h, emb, context, settings); // [B, H_last, W_last, C_last]
        keep('mid_block', h);
      }
      const factor = 2 ** this.plan.numUpsamplers;
      const forwardUpsampleSize = height % factor !== 0 || width % factor !== 0;
      this.plan.up.forEach((block, i) => {
        const isFinal = i === this.plan.up.length - 1;
        const consumed = skips.splice(skips.length - block.resnets.length, block.resnets.length); // this block's skips
        const next = skips[skips.length - 1];
        const size = !isFinal && forwardUpsampleSize && next ? ([next.shape[1], next.shape[2]] as [number, number]) : undefined;
        h = upBlock(w, block, h, consumed, emb, context, settings, size); // [B, H_i, W_i, C_i]
        keep(`up_blocks_${i}`, h);
      });

      const normed = groupNormModule(w, 'conv_norm_out', h, cfg.normNumGroups, cfg.normEps); // [B, H, W, C0]
      keep('conv_norm_out', normed);
      const outPad = (cfg.convOutKernel - 1) / 2;
      const out = conv2dModule(w, 'conv_out', silu(normed) as tf.Tensor4D, { padding: outPad }); // [B, H, W, C0] -> [B, H, W, Cout]
      keep('conv_out', out);
      return out;
    });
  }

  private validate(latents: tf.Tensor4D, timesteps: number | tf.Tensor1D, context: tf.Tensor3D): void {
    const cfg = this.config;
    if (latents.rank !== 4 || latents.shape[3] !== cfg.inChannels) {
      throw new ShapeMismatchError({ what: 'UNet latents [B, H, W, C]', expected: [null, null, null, cfg.inChannels], received: latents.shape });
    }
    const b = latents.shape[0];
    if (context.rank !== 3 || context.shape[0] !== b || context.shape[2] !== this.contextDim) {
      throw new ShapeMismatchError({ what: 'UNet context [B, T, D]', expected: [b, null, this.contextDim], received: context.shape });
    }
    if (typeof timesteps === 'number') {
      if (!Number.isFinite(timesteps)) throw new InvalidOptionError({ option: 'timesteps', expected: 'a finite number', received: timesteps });
    } else if (timesteps.rank !== 1 || (timesteps.shape[0] !== b && timesteps.shape[0] !== 1)) {
      throw new ShapeMismatchError({ what: 'UNet timesteps [B]', expected: [b], received: timesteps.shape });
    }
    if (this.vars.size === 0) throw new UnsupportedError(`${this.loraSource}: the model was disposed.`);
  }
}
