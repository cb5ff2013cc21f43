/**
 * Multi-head scaled dot-product attention, written for the wasm backend, and diffusers' `Attention` module
 * (to_q / to_k / to_v / to_out.0) built on it.
 *
 * Notation (diffusers `AttnProcessor`, "Attention Is All You Need" eq. 1):
 *   q [B, Tq, C], k [B, Tk, C], v [B, Tk, C]; H heads of d = C / H channels, head h = channels [h·d, (h+1)·d).
 *   P = softmax(s · q_h k_hᵀ + M),  s = d^-½ by default,  M an optional additive mask [Tq, Tk] or [B, Tq, Tk]
 *   out_h = P v_h [B, Tq, d]; out = concat_h(out_h) [B, Tq, C].
 *
 * Speed: tfjs-wasm's BatchMatMul is fast only for one plain [M, K] x [K, N] product; batched or transposed
 * products fall back to a slow loop (platform.md: 0.8 vs ~70 GFLOP/s). The 'loop' strategy therefore transposes q,
 * k, v once into [B·H, T, d] / [B·H, d, Tk] and runs B·H plain 2-D matMuls, each head in its own `tidy` so the
 * [Tq, Tk] score matrices are freed as it goes (the tape keeps what a gradient needs). The 'batched' strategy runs
 * one 3-D batchMatMul without broadcasting (best on cpu). 'auto' picks 'loop' on wasm for Tq·Tk > 65,536, 'batched' otherwise.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, ShapeMismatchError } from '@erase/core';
import { linearModule } from './linear';
import type { ModuleWeights } from './weights';

/** float32's most negative finite value, the masked-score fill transformers uses. */
export const MASK_FILL = -3.4028234663852886e38;

/** Options of `multiHeadAttention`. */
export interface AttentionOptions {
  /** Multiplier on q kᵀ; default head_dim^-½. */
  readonly scale?: number;
  /** Additive mask [Tq, Tk] or [B, Tq, Tk] added to the scaled scores before the softmax. Not disposed. */
  readonly mask?: tf.Tensor;
  /** Adds a causal mask (position i sees keys ≤ i), filled with `MASK_FILL` as transformers' CLIP does. */
  readonly causal?: boolean;
  /** See the file comment. Default 'auto'. */
  readonly strategy?: 'auto' | 'loop' | 'batched';
}

/**
 * Multi-head attention. q float32 [B, Tq, C], k and v [B, Tk, C] (C divisible by `heads`) → [B, Tq, C].
 * The caller owns the result; inputs are not disposed. Differentiable w.r.t. q, k, v.
 * @throws ShapeMismatchError when the shapes disagree; InvalidOptionError when C is not divisible by `heads`
 */
export function multiHeadAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number, options: AttentionOptions = {}): tf.Tensor3D {
  const [b, tq, c] = q.shape;
  const tk = k.shape[1];
  if (k.shape[0] !== b || k.shape[2] !== c) throw new ShapeMismatchError({ what: 'attention keys', expected: [b, null, c], received: k.shape });
  if (v.shape[0] !== b || v.shape[1] !== tk || v.shape[2] !== c) {
    throw new ShapeMismatchError({ what: 'attention values', expected: [b, tk, c], received: v.shape });
  }
  if (!Number.isInteger(heads) || heads < 1 || c % heads !== 0) {
    throw new InvalidOptionError({ option: 'heads', expected: `a positive divisor of the channel count ${c}`, received: heads });
  }
  const mask = options.mask;
  if (mask) {
    const ok = (mask.rank === 2 && mask.shape[0] === tq && mask.shape[1] === tk) ||
      (mask.rank === 3 && mask.shape[0] === b && mask.shape[1] === tq && mask.shape[2] === tk);
    if (!ok) throw new ShapeMismatchError({ what: 'attention mask', expected: [b, tq, tk], received: mask.shape });
  }
  const d = c / heads;
  const scale = options.scale ?? 1 / Math.sqrt(d);
  const strategy = options.strategy ?? 'auto';
  // The per-head loop wins on wasm only for large score matrices (1024×1024: 172 ms vs 2.5 s); at Tq·Tk ≤ 65,536
  // one batched product measured 3–20× faster. With a single head and batch 1 there is nothing to loop over.
  const useLoop =
    b * heads > 1 && (strategy === 'loop' || (strategy === 'auto' && tf.getBackend() === 'wasm' && tq * tk > 65_536));

  return tf.tidy(() => {
    let m: tf.Tensor | undefined = mask;
    if (options.causal) {
      const causal = causalMask(tq, tk); // [Tq, Tk]
      m = m ? tf.add(m, causal) : causal; // [Tq, Tk] or [B, Tq, Tk]
    }
    const qs = tf.mul(q, scale); // [B, Tq, C]
    const qh = tf.reshape(tf.transpose(tf.reshape(qs, [b, tq, heads, d]), [0, 2, 1, 3]), [b * heads, tq, d]); // [B, Tq, C] -> [B·H, Tq, d]
    const kh = tf.reshape(tf.transpose(tf.reshape(k, [b, tk, heads, d]), [0, 2, 3, 1]), [b * heads, d, tk]); // [B, Tk, C] -> [B·H, d, Tk]
    const vh = tf.reshape(tf.transpose(tf.reshape(v, [b, tk, heads, d]), [0, 2, 1, 3]), [b * heads, tk, d]); // [B, Tk, C] -> [B·H, Tk, d]

    let outH: tf.Tensor3D;
    if (useLoop) {
      const qList = tf.unstack(qh); // B·H x [Tq, d]
      const kList = tf.unstack(kh); // B·H x [d, Tk]
      const vList = tf.unstack(vh); // B·H x [Tk, d]
      const maskRows = m && m.rank === 3 ? tf.unstack(m) : undefined; // B x [Tq, Tk]
      const outs: tf.Tensor2D[] = [];
      for (let i = 0; i < b * heads; i++) {
        const mi = maskRows ? maskRows[Math.floor(i / heads)] : m;
        outs.push(
          tf.tidy(() => {
            let scores: tf.Tensor = tf.matMul(qList[i] as tf.Tensor2D, kList[i] as tf.Tensor2D); // [Tq, d] x [d, Tk] -> [Tq, Tk]
            if (mi) scores = tf.add(scores, mi); // [Tq, Tk]
            const probs = tf.softmax(scores); // [Tq, Tk]
            return tf.matMul(probs as tf.Tensor2D, vList[i] as tf.Tensor2D); // [Tq, Tk] x [Tk, d] -> [Tq, d]
          }),
        );
      }
      outH = tf.stack(outs) as tf.Tensor3D; // B·H x [Tq, d] -> [B·H, Tq, d]
    } else {
      let scores: tf.Tensor = tf.matMul(qh, kh); // [B·H, Tq, d] x [B·H, d, Tk] -> [B·H, Tq, Tk]
      if (m) {
        const m3 = m.rank === 3 ? tf.reshape(tf.tile(tf.expandDims(m, 1), [1, heads, 1, 1]), [b * heads, tq, tk]) : m; // [B·H, Tq, Tk] or [Tq, Tk]
        scores = tf.add(scores, m3); // [B·H, Tq, Tk]
      }
      const probs = tf.softmax(scores); // [B·H, Tq, Tk]
      outH = tf.matMul(probs as tf.Tensor3D, vh); // [B·H, Tq, Tk] x [B·H, Tk, d] -> [B·H, Tq, d]
    }
    const merged = tf.transpose(tf.reshape(outH, [b, heads, tq, d]), [0, 2, 1, 3]); // [B·H, Tq, d] -> [B, Tq, H, d]
    return tf.reshape(merged, [b, tq, c]) as tf.Tensor3D; // [B, Tq, H, d] -> [B, Tq, C]
  });
}

/** Additive causal mask [Tq, Tk]: 0 where key j ≤ query i (+ Tk − Tq offset), `MASK_FILL` elsewhere. The caller owns it. */
export function causalMask(tq: number, tk: number): tf.Tensor2D {
  const values = new Float32Array(tq * tk);
  const offset = tk - tq;
  for (let i = 0; i < tq; i++) for (let j = 0; j < tk; j++) if (j > i + offset) values[i * tk + j] = MASK_FILL;
  return tf.tensor2d(values, [tq, tk]);
}

/** Options of `attentionModule`. */
export interface AttentionModuleOptions extends AttentionOptions {
  /** Number of heads H. */
  readonly heads: number;
}

/**
 * diffusers' `Attention` at `path` without group norm or residual: `to_out.0(MHA(to_q(x), to_k(ctx), to_v(ctx)))`.
 * x float32 [B, T, Cq]; context [B, Tk, D] (default: x, i.e. self-attention) → [B, T, Cout]. LoRA adapters on the four
 * projections are applied through `weights.linearAdapter`. The caller owns the result.
 * @throws WeightKeysError for a missing projection weight; ShapeMismatchError / InvalidOptionError as multiHeadAttention
 */
export function attentionModule(weights: ModuleWeights, path: string, x: tf.Tensor3D, context: tf.Tensor3D | undefined, options: AttentionModuleOptions): tf.Tensor3D {
  return tf.tidy(() => {
    const ctx = context ?? x;
    const q = linearModule(weights, `${path}.to_q`, x) as tf.Tensor3D; // [B, T, Cq] -> [B, T, C]
    const k = linearModule(weights, `${path}.to_k`, ctx) as tf.Tensor3D; // [B, Tk, D] -> [B, Tk, C]
    const v = linearModule(weights, `${path}.to_v`, ctx) as tf.Tensor3D; // [B, Tk, D] -> [B, Tk, C]
    const attended = multiHeadAttention(q, k, v, options.heads, options); // [B, T, C]
    return linearModule(weights, `${path}.to_out.0`, attended) as tf.Tensor3D; // [B, T, C] -> [B, T, Cout]
  });
}
