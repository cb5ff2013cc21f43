/**
 * Timing and memory helpers shared by the bench scripts.
 *
 * wasm kernels run synchronously (also with XNNPACK threads: the calling thread waits for the pool), so a
 * measurement ends when the timed function returns; `timeRuns` still awaits whatever the function returns so that a
 * caller can end with a data read.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** Median of a non-empty list (the upper middle for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Per-run wall times in ms: `warmup` untimed calls, then `reps` timed ones. */
export async function timeRuns(run: () => unknown, warmup: number, reps: number): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return times;
}

/**
 * The wasm module's memory size in bytes — its high-water mark, since wasm memory grows and never shrinks —
 * or undefined when the active backend is not wasm.
 */
export function wasmHeapBytes(): number | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const wasm = (tf.backend() as BackendWasm).wasm as unknown as { HEAPU8?: Uint8Array };
  return wasm.HEAPU8?.buffer.byteLength;
}

/** Bytes held by live tfjs tensors on the active backend (`tf.memory().numBytes`). */
export function liveTensorBytes(): number {
  return tf.memory().numBytes;
}

/** `bytes` in MiB, rounded, for tables. */
export function mib(bytes: number | undefined): string {
  return bytes === undefined || !Number.isFinite(bytes) ? '—' : (bytes / 2 ** 20).toFixed(0);
}

/** `ms` with a precision suited to its size. */
export function fmtMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

/**
 * A cheap warm-up view of an input: the first sample, and for NHWC maps the top-left quarter (both sides halved when
 * even). XNNPACK packs a weight on its first use whatever the input size, so a warm-up on these views does the
 * one-time work at 1/(4B) of the cost. Returns a new tensor (the caller disposes it, e.g. inside `tf.tidy`).
 */
export function warmupView<T extends tf.Tensor>(t: T): T {
  const first = tf.slice(t, 0, 1); // [1, ...]
  if (t.rank !== 4) return first as T;
  const [, h, w] = t.shape as number[];
  const hh = (h as number) % 2 === 0 ? (h as number) / 2 : (h as number);
  const ww = (w as number) % 2 === 0 ? (w as number) / 2 : (w as number);
  return tf.slice(first, [0, 0, 0, 0], [1, hh, ww, -1]) as T; // [1, H/2, W/2, C]
}
