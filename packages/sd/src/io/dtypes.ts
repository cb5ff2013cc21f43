/**
 * safetensors dtypes: element sizes, decoding file bytes to host arrays and encoding host arrays to file bytes.
 *
 * Notation (IEEE 754 bit layouts, s = sign, e = exponent, m = mantissa):
 *   F32  s|e8|m23  bias 127          F16  s|e5|m10  bias 15  (subnormal: m · 2^-24)
 *   BF16 s|e8|m7   = the top 16 bits of an F32 (subnormals, inf and NaN carry over unchanged)
 *   F8_E5M2 s|e5|m2 = the top 8 bits of an F16;  F8_E4M3 (the "fn" variant) s|e4|m3 bias 7, no inf, NaN = e1111 m111
 * Floats decode to float32 (F64 rounds to nearest), integers to int32 (I64/U32/U64 values outside int32 → error).
 * Encoding rounds to nearest, ties to even (what `torch.Tensor.half()` / `.bfloat16()` do).
 */
import { endianness } from 'node:os';
import { InvalidOptionError, UnsupportedError } from '@erase/core';

/** The safetensors dtypes this reader decodes (floats to float32, integers to int32) and writes. */
export type SafetensorsDtype =
  | 'F64' | 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'F8_E5M2'
  | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'U16' | 'U32' | 'U64' | 'BOOL';

/** Bytes per element of each decoded dtype (`UNDECODED_DTYPE_BITS` has the others' sizes, in bits). */
export const DTYPE_SIZES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1,
  I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, U16: 2, U32: 4, U64: 8, BOOL: 1,
};

/** True for a dtype this reader decodes (see `isUndecodedDtype` for the ones it only lists). */
export function isSafetensorsDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZES, value);
}

/**
 * dtypes the format lists (safetensors' `tensor.rs` as of 0.8) that this reader does not decode: the microscaling
 * exponent F8_E8M0, the FNUZ float8 variants, the 4- and 6-bit floats and complex64. A file may hold them (quantised
 * checkpoints keep scales this way): `openSafetensors` lists them and reads their raw bytes and the file's other
 * tensors; decoding one of them, or a whole-file read or component load that needs them, is an `UnsupportedError`.
 */
export type UndecodedDtype = 'F8_E8M0' | 'F8_E4M3FNUZ' | 'F8_E5M2FNUZ' | 'F4' | 'F6_E2M3' | 'F6_E3M2' | 'C64';

/** Bits per element of each undecoded dtype (a tensor's total must be whole bytes, as in the Rust reference). */
export const UNDECODED_DTYPE_BITS: Readonly<Record<UndecodedDtype, number>> = {
  F8_E8M0: 8, F8_E4M3FNUZ: 8, F8_E5M2FNUZ: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6, C64: 64,
};

/** True for a dtype the format lists but this reader does not decode. */
export function isUndecodedDtype(value: unknown): value is UndecodedDtype {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(UNDECODED_DTYPE_BITS, value);
}

/** True for the floating-point dtypes (they decode to float32). */
export function isFloatDtype(dtype: SafetensorsDtype): boolean {
  return dtype === 'F64' || dtype === 'F32' || dtype === 'F16' || dtype === 'BF16' || dtype === 'F8_E4M3' || dtype === 'F8_E5M2';
}

const littleEndianHost = endianness() === 'LE';

let halfTable: Float32Array | undefined;

/** float32 value of every F16 bit pattern (65,536 entries, built once). */
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) table[h] = halfBitsToNumber(h);
  halfTable = table;
  return table;
}

/** F16 bits → number (exact). */
export function halfBitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** F8_E4M3 (fn) bits → number (exact). */
function e4m3BitsToNumber(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const exponent = (b >>> 3) & 0xf;
  const mantissa = b & 0x7;
  if (exponent === 0xf && mantissa === 0x7) return NaN;
  if (exponent === 0) return sign * mantissa * 2 ** -9;
  return sign * (1 + mantissa / 8) * 2 ** (exponent - 7);
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** number → F16 bits, rounding to nearest even; overflow gives ±inf, NaN stays NaN. */
export function numberToHalfBits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return mantissa !== 0 ? sign | 0x7e00 | (mantissa >>> 13) : sign | 0x7c00;
  const e = exponent - 127 + 15; // the F16 biased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // F16 subnormal: value = full · 2^(exponent-150) = (full >> (14 - e)) · 2^-24
    const shift = 14 - e;
    if (shift > 24) return sign; // below half of the smallest subnormal
    const full = mantissa | 0x800000;
    let result = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (result & 1) === 1)) result += 1;
    return sign | result;
  }
  let result = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (result & 1) === 1)) result += 1; // may carry into the exponent (→ inf)
  return sign | result;
}

/** number → BF16 bits, rounding to nearest even; NaN stays a quiet NaN. */
export function numberToBf16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0] as number;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Reverses the byte order of each `size`-byte element in place (big-endian hosts only). */
function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a] as number;
      bytes[a] = bytes[b] as number;
      bytes[b] = t;
    }
  }
}

/** Where a tensor came from, for error messages. */
export interface TensorSource {
  readonly file: string;
  readonly name: string;
}

/**
 * Decodes a tensor's raw little-endian bytes. `bytes` is handed over: it may become the result's storage (F32, I32,
 * U32) and is byte-swapped in place on big-endian hosts.
 * @throws UnsupportedError when an I64/U32/U64 value does not fit int32
 */
export function decodeTensorBytes(
  bytes: Uint8Array,
  dtype: SafetensorsDtype,
  count: number,
  source: TensorSource,
): Float32Array | Int32Array {
  const size = DTYPE_SIZES[dtype];
  if (!littleEndianHost) swapBytes(bytes, size);
  // Typed-array views on `bytes` (copied only when its offset is not aligned to the element size).
  const view = <T>(make: new (buffer: ArrayBufferLike, offset: number, length: number) => T, length = count): T =>
    bytes.byteOffset % size === 0 ? new make(bytes.buffer, bytes.byteOffset, length) : new make(bytes.slice().buffer, 0, length);
  switch (dtype) {
    case 'F32':
      return view(Float32Array);
    case 'F64':
      return Float32Array.from(view(Float64Array));
    case 'F16': {
      const table = halfToFloatTable();
      const halves = view(Uint16Array);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = table[halves[i] as number] as number;
      return out;
    }
    case 'BF16': {
      const halves = view(Uint16Array);
      const bits = new Uint32Array(count);
      for (let i = 0; i < count; i++) bits[i] = (halves[i] as number) << 16;
      return new Float32Array(bits.buffer);
    }
    case 'F8_E5M2': {
      const table = halfToFloatTable();
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = table[(bytes[i] as number) << 8] as number;
      return out;
    }
    case 'F8_E4M3': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = e4m3BitsToNumber(bytes[i] as number);
      return out;
    }
    case 'I32':
      return view(Int32Array);
    case 'I16':
      return Int32Array.from(view(Int16Array));
    case 'U16':
      return Int32Array.from(view(Uint16Array));
    case 'I8':
      return Int32Array.from(view(Int8Array));
    case 'U8':
      return Int32Array.from(bytes.subarray(0, count));
    case 'BOOL': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = bytes[i] === 0 ? 0 : 1;
      return out;
    }
    case 'U32': {
      const words = view(Int32Array);
      for (let i = 0; i < count; i++) if ((words[i] as number) < 0) throw notInt32(source, dtype, (words[i] as number) >>> 0);
      return words;
    }
    case 'I64':
    case 'U64': {
      // Each value is (low, high) as two int32 words; it fits int32 when high is the sign extension of low.
      const words = bytes.byteOffset % 4 === 0 ? new Int32Array(bytes.buffer, bytes.byteOffset, count * 2) : new Int32Array(bytes.slice().buffer, 0, count * 2);
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const low = words[2 * i] as number;
        const high = words[2 * i + 1] as number;
        const fits = dtype === 'I64' ? high === low >> 31 : high === 0 && low >= 0;
        if (!fits) {
          const value = dtype === 'I64' ? BigInt(high) * 2n ** 32n + BigInt(low >>> 0) : BigInt(high >>> 0) * 2n ** 32n + BigInt(low >>> 0);
          throw notInt32(source, dtype, value);
        }
        out[i] = low;
      }
      return out;
    }
  }
}

function notInt32(source: TensorSource, dtype: SafetensorsDtype, value: number | bigint): UnsupportedError {
  return new UnsupportedError(
    `${source.file}: tensor "${source.name}" (${dtype}) holds the value ${value}, which does not fit int32; ` +
      'integer tensors are read as int32 (values from -2147483648 to 2147483647).',
  );
}

const intRanges: Partial<Record<SafetensorsDtype, readonly [number, number]>> = {
  I64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  U64: [0, Number.MAX_SAFE_INTEGER],
  I32: [-2147483648, 2147483647],
  U32: [0, 4294967295],
  I16: [-32768, 32767],
  U16: [0, 65535],
  I8: [-128, 127],
  U8: [0, 255],
  BOOL: [0, 1],
};

/**
 * Encodes values as little-endian bytes of `dtype` (a fresh buffer, or a read-only view of a Float32Array input).
 * @throws InvalidOptionError when an integer dtype gets a non-integer or out-of-range value (`name` is named)
 * @throws UnsupportedError for F8 dtypes (reading only)
 */
export function encodeTensorBytes(data: ArrayLike<number>, dtype: SafetensorsDtype, name: string): Uint8Array {
  const count = data.length;
  let bytes: Uint8Array;
  switch (dtype) {
    case 'F32':
      // A Float32Array is written from its own memory on little-endian hosts (no copy).
      if (data instanceof Float32Array && littleEndianHost) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      bytes = new Uint8Array(Float32Array.from(data).buffer);
      break;
    case 'F64':
      bytes = new Uint8Array(Float64Array.from(data).buffer);
      break;
    case 'F16':
    case 'BF16': {
      const halves = new Uint16Array(count);
      const encode = dtype === 'F16' ? numberToHalfBits : numberToBf16Bits;
      for (let i = 0; i < count; i++) halves[i] = encode(data[i] as number);
      bytes = new Uint8Array(halves.buffer);
      break;
    }
    case 'F8_E4M3':
    case 'F8_E5M2':
      throw new UnsupportedError(`Writing ${dtype} tensors is not supported (tensor "${name}"); write F16, BF16 or F32.`);
    default: {
      const [min, max] = intRanges[dtype] as readonly [number, number];
      for (let i = 0; i < count; i++) {
        const v = data[i] as number;
        if (!Number.isInteger(v) || v < min || v > max) {
          throw new InvalidOptionError({
            option: `tensors["${name}"].data[${i}]`,
            expected: `an integer from ${min} to ${max} for dtype ${dtype}`,
            received: v,
          });
        }
      }
      bytes = encodeIntegers(data, dtype);
    }
  }
  if (!littleEndianHost) swapBytes(bytes, DTYPE_SIZES[dtype]);
  return bytes;
}

function encodeIntegers(data: ArrayLike<number>, dtype: SafetensorsDtype): Uint8Array {
  switch (dtype) {
    case 'I64':
      return new Uint8Array(BigInt64Array.from(Array.from(data, (v) => BigInt(v))).buffer);
    case 'U64':
      return new Uint8Array(BigUint64Array.from(Array.from(data, (v) => BigInt(v))).buffer);
    case 'I32':
      return new Uint8Array(Int32Array.from(data).buffer);
    case 'U32':
      return new Uint8Array(Uint32Array.from(data).buffer);
    case 'I16':
      return new Uint8Array(Int16Array.from(data).buffer);
    case 'U16':
      return new Uint8Array(Uint16Array.from(data).buffer);
    case 'I8':
      return new Uint8Array(Int8Array.from(data).buffer);
    default: // U8, BOOL
      return Uint8Array.from(data);
  }
}
