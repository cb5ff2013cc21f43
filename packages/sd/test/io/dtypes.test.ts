/**
 * fp16 / bf16 / fp8 decoding and encoding against IEEE 754 constants (not values produced by the code).
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { halfBitsToNumber, numberToBf16Bits, numberToHalfBits, openSafetensors } from '../../src/io/index';
import { removeTempDirs, tempDir, u16Bytes, writeRaw } from './helpers';

afterAll(removeTempDirs);

describe('F16 bits → number', () => {
  it.each([
    [0x3c00, 1],
    [0xc000, -2],
    [0x7bff, 65504],
    [0x0400, 2 ** -14], // smallest normal
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x3555, 0.333251953125],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ])('0x%s', (bits, value) => {
    expect(halfBitsToNumber(bits)).toBe(value);
  });
  it('keeps the sign of zero and gives NaN', () => {
    expect(Object.is(halfBitsToNumber(0x8000), -0)).toBe(true);
    expect(halfBitsToNumber(0x7e00)).toBeNaN();
    expect(halfBitsToNumber(0xfd00)).toBeNaN();
  });
});

describe('number → F16 bits (round to nearest even)', () => {
  it.each([
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [65519, 0x7bff], // just below the midpoint to 65536
    [65520, 0x7c00], // midpoint, ties to even → 65536 = inf
    [1e6, 0x7c00],
    [-1e6, 0xfc00],
    [2 ** -24, 0x0001],
    [2 ** -25, 0x0000], // tie between 0 and the smallest subnormal → even (0)
    [3 * 2 ** -26, 0x0001], // above the midpoint
    [3 * 2 ** -25, 0x0002], // 1.5 subnormal units, tie → 2
    [1023 * 2 ** -24, 0x03ff],
    [2 ** -14, 0x0400],
    [1 + 2 ** -11, 0x3c00], // tie → even mantissa 0
    [1 + 3 * 2 ** -11, 0x3c02], // tie → even mantissa 2
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // above the tie
    [1e-8, 0x0000],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
  ])('%s', (value, bits) => {
    expect(numberToHalfBits(value)).toBe(bits);
  });
  it('keeps -0 and NaN', () => {
    expect(numberToHalfBits(-0)).toBe(0x8000);
    const nan = numberToHalfBits(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x3ff).not.toBe(0);
  });
});

describe('BF16', () => {
  it.each([
    [1, 0x3f80],
    [-3, 0xc040],
    [1 + 2 ** -8, 0x3f80], // tie → even
    [1 + 3 * 2 ** -8, 0x3f82], // tie → even
    [1 + 2 ** -8 + 2 ** -20, 0x3f81],
    [3.4028234663852886e38, 0x7f80], // float32 max rounds up to inf
    [Infinity, 0x7f80],
    [-Infinity, 0xff80],
  ])('encodes %s', (value, bits) => {
    expect(numberToBf16Bits(value)).toBe(bits);
  });
  it('encodes NaN as a quiet NaN', () => {
    expect(numberToBf16Bits(NaN) & 0x7fc0).toBe(0x7fc0);
  });
  it('decodes bit patterns, including subnormals, inf and NaN', () => {
    const dir = tempDir();
    const file = join(dir, 'bf16.safetensors');
    const bits = [0x3f80, 0xc040, 0x0001, 0x8001, 0x7f80, 0xff80, 0x7fc0, 0x3eab, 0x0080];
    writeRaw(file, { x: { dtype: 'BF16', shape: [bits.length], data_offsets: [0, bits.length * 2] } }, u16Bytes(bits));
    const handle = openSafetensors(file);
    const t = handle.read('x');
    handle.close();
    expect(t.dtype).toBe('float32');
    expect(t.fileDtype).toBe('BF16');
    const d = Array.from(t.data);
    expect(d.slice(0, 2)).toEqual([1, -3]);
    expect(d[2]).toBe(2 ** -133); // smallest bf16 subnormal = smallest float32 subnormal · 2^16
    expect(d[3]).toBe(-(2 ** -133));
    expect(d[4]).toBe(Infinity);
    expect(d[5]).toBe(-Infinity);
    expect(d[6]).toBeNaN();
    expect(d[7]).toBe(0.333984375);
    expect(d[8]).toBe(2 ** -126); // smallest normal
  });
});

describe('F16 and F8 tensors read from files', () => {
  it('upcasts F16 bit patterns exactly', () => {
    const dir = tempDir();
    const file = join(dir, 'f16.safetensors');
    const bits = [0x3c00, 0x0001, 0x03ff, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x7bff];
    writeRaw(file, { h: { dtype: 'F16', shape: [2, 4], data_offsets: [0, 16] } }, u16Bytes(bits));
    const handle = openSafetensors(file);
    const t = handle.read('h');
    handle.close();
    expect(t.shape).toEqual([2, 4]);
    const d = Array.from(t.data);
    expect(d[0]).toBe(1);
    expect(d[1]).toBe(5.960464477539063e-8);
    expect(d[2]).toBe(6.097555160522461e-5);
    expect(Object.is(d[3], -0)).toBe(true);
    expect(d[4]).toBe(Infinity);
    expect(d[5]).toBe(-Infinity);
    expect(d[6]).toBeNaN();
    expect(d[7]).toBe(65504);
  });

  it('decodes F8_E4M3 (fn) and F8_E5M2', () => {
    const dir = tempDir();
    const file = join(dir, 'f8.safetensors');
    // E4M3: 0x38 = 1, 0x7e = 448 (max), 0x01 = 2^-9, 0x7f = NaN, 0xb8 = -1.  E5M2: 0x3c = 1, 0x7b = 57344, 0x01 = 2^-16, 0x7c = inf.
    const bytes = Uint8Array.from([0x38, 0x7e, 0x01, 0x7f, 0xb8, 0x3c, 0x7b, 0x01, 0x7c, 0x00]);
    writeRaw(
      file,
      {
        a: { dtype: 'F8_E4M3', shape: [5], data_offsets: [0, 5] },
        b: { dtype: 'F8_E5M2', shape: [5], data_offsets: [5, 10] },
      },
      bytes,
    );
    const handle = openSafetensors(file);
    const a = Array.from(handle.read('a').data);
    const b = Array.from(handle.read('b').data);
    handle.close();
    expect([a[0], a[1], a[2], a[4]]).toEqual([1, 448, 2 ** -9, -1]);
    expect(a[3]).toBeNaN();
    expect(b).toEqual([1, 57344, 2 ** -16, Infinity, 0]);
  });
});
