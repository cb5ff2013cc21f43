/**
 * Host-side arithmetic that reproduces, value for value, the NumPy and PyTorch (CPU) routines diffusers uses to
 * build its schedules. Schedules are small (≤ a few thousand numbers), so this runs in plain JS doubles and rounds
 * to float32 exactly where the reference library does (`Math.fround`).
 *
 * Notation: `f(x)` = round to float32. A product of two float32 numbers (or a float32 and an integer < 2^24) is
 * exact in float64, so `f(a + b * c)` computed in doubles reproduces a fused multiply-add.
 */

const f = Math.fround;

/**
 * `torch.linspace(start, end, steps, dtype=torch.float32)` on the CPU (torch 1.13, AVX2 build), bit for bit.
 *
 * The kernel computes `step = (end − start) / (steps − 1)` in float32 and fills the first half from `start` and the
 * second half from `end` (`start + step·i` / `end − step·(steps − 1 − i)`). Its vectorised path writes two
 * 8-lane vectors per iteration, each as `arange(base, step)` where `base` is the fused multiply-add for the first
 * lane (the AVX2 translation unit contracts it); the tail uses the scalar formula.
 *
 * @returns float32 values, length `steps`.
 */
export function torchLinspaceFloat32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 0) return out;
  const s = f(start);
  const e = f(end);
  if (steps === 1) {
    out[0] = s;
    return out;
  }
  const step = f(f(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  const at = (idx: number): number => (idx < halfway ? f(s + step * idx) : f(e - step * (steps - idx - 1)));
  const lanes = 8;
  let i = 0;
  for (; i <= steps - 2 * lanes; i += 2 * lanes) {
    for (let v = 0; v < 2; v++) {
      const first = i + v * lanes;
      const base = at(first);
      for (let k = 0; k < lanes; k++) out[first + k] = f(base + k * step);
    }
  }
  for (; i < steps; i++) out[i] = at(i);
  return out;
}

/** `torch.cumprod(x, 0)` for float32 on the CPU: the running product is kept in float64, each output is rounded. */
export function cumprodFloat32(values: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  let acc = 1;
  for (let i = 0; i < values.length; i++) {
    acc *= values[i] as number;
    out[i] = acc;
  }
  return out;
}

/** `np.linspace(start, stop, num)` (float64, endpoint included): `i·step + start`, last value exactly `stop`. */
export function numpyLinspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  if (num === 0) return out;
  const div = num - 1;
  const delta = stop - start;
  const step = div > 0 ? delta / div : NaN;
  for (let i = 0; i < num; i++) {
    out[i] = div > 0 ? (step === 0 ? (i / div) * delta : i * step) + start : start;
  }
  if (num > 1) out[num - 1] = stop;
  return out;
}

/**
 * `np.arange(start, stop, step)` for float64: length `ceil((stop − start) / step)`; NumPy writes the first two
 * values, then fills `start + i·δ` with `δ = (start + step) − start`.
 */
export function numpyArange(start: number, stop: number, step: number): Float64Array {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  const out = new Float64Array(length);
  if (length === 0) return out;
  out[0] = start;
  if (length === 1) return out;
  const second = start + step;
  out[1] = second;
  const delta = second - start;
  for (let i = 2; i < length; i++) out[i] = start + i * delta;
  return out;
}

/** `np.round` / Python 3 `round`: half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * `np.interp(x, xp, fp)` in float64 for increasing `xp`: `slope·(x − xp[j]) + fp[j]` on the bracketing interval,
 * `fp[j]` on an exact hit, clamped to the end values outside.
 */
export function numpyInterp(x: ArrayLike<number>, xp: ArrayLike<number>, fp: ArrayLike<number>): Float64Array {
  const n = xp.length;
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const xv = x[i] as number;
    if (Number.isNaN(xv)) {
      out[i] = xv;
    } else if (xv <= (xp[0] as number)) {
      out[i] = fp[0] as number;
    } else if (xv >= (xp[n - 1] as number)) {
      out[i] = fp[n - 1] as number;
    } else {
      let lo = 0;
      let hi = n - 1; // invariant: xp[lo] <= xv < xp[hi]
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if ((xp[mid] as number) <= xv) lo = mid;
        else hi = mid;
      }
      const x0 = xp[lo] as number;
      const y0 = fp[lo] as number;
      if (x0 === xv) {
        out[i] = y0;
      } else {
        const slope = ((fp[lo + 1] as number) - y0) / ((xp[lo + 1] as number) - x0);
        out[i] = slope * (xv - x0) + y0;
      }
    }
  }
  return out;
}
