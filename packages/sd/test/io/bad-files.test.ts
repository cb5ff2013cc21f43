/**
 * Malformed and unsupported files: each gives a typed error naming the file, without a large allocation.
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileFormatError, UnsupportedError } from '@erase/core';
import {
  loadComponent,
  loadSingleFileCheckpoint,
  openSafetensors,
  readJsonConfig,
  readSafetensors,
  writeSafetensors,
} from '../../src/io/index';
import { f32Bytes, removeTempDirs, tempDir, writeRaw } from './helpers';

afterAll(removeTempDirs);

/** Runs `fn`, expects an error of the given class whose message names `file`; returns it. */
function expectError<T extends Error>(fn: () => unknown, kind: { isInstance(e: unknown): e is T }, file: string): T {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, 'expected an error').toBeDefined();
  expect(kind.isInstance(error), String(error)).toBe(true);
  expect((error as Error).message).toContain(file);
  return error as T;
}

const ok = { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };

describe('malformed safetensors', () => {
  const dir = tempDir();
  const path = (name: string): string => join(dir, name);

  it('a file shorter than 8 bytes', () => {
    writeFileSync(path('short.safetensors'), Buffer.from([1, 2, 3]));
    expectError(() => openSafetensors(path('short.safetensors')), FileFormatError, path('short.safetensors'));
  });

  it('an empty file', () => {
    writeFileSync(path('empty.safetensors'), Buffer.alloc(0));
    expectError(() => readSafetensors(path('empty.safetensors')), FileFormatError, path('empty.safetensors'));
  });

  it('a truncated file (data cut off)', () => {
    const p = path('truncated.safetensors');
    writeSafetensors(p, new Map([['w', { dtype: 'F32', shape: [64], data: new Float32Array(64).fill(1) }]]));
    const bytes = readFileSync(p);
    writeFileSync(p, bytes.subarray(0, bytes.length - 10));
    const error = expectError(() => readSafetensors(p), FileFormatError, p);
    expect(error.message).toMatch(/past the end of the data area/);
  });

  it('a truncated file (header cut off)', () => {
    const p = path('truncated-header.safetensors');
    writeSafetensors(p, new Map([['w', { dtype: 'F32', shape: [4], data: [1, 2, 3, 4] }]]));
    writeFileSync(p, readFileSync(p).subarray(0, 30));
    expectError(() => readSafetensors(p), FileFormatError, p);
  });

  it('a header length beyond the file', () => {
    const p = path('beyond.safetensors');
    writeRaw(p, ok, f32Bytes([1, 2]), { lengthField: 1000n });
    expect(expectError(() => openSafetensors(p), FileFormatError, p).message).toMatch(/header length field says 1000/);
  });

  it('a header claiming gigabytes (u64 max) in a tiny file', () => {
    const p = path('huge.safetensors');
    writeRaw(p, ok, f32Bytes([1, 2]), { lengthField: 0xffffffffffffffffn });
    expectError(() => openSafetensors(p), FileFormatError, p);
  });

  it('a 150 MB header inside a 200 MB (sparse) file is refused before anything is allocated', () => {
    const p = path('huge-sparse.safetensors');
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(150_000_000n, 0);
    writeFileSync(p, prefix);
    const fd = openSync(p, 'r+');
    writeSync(fd, Buffer.from('}'), 0, 1, 200_000_000);
    closeSync(fd);
    const before = process.memoryUsage().arrayBuffers;
    const error = expectError(() => openSafetensors(p), FileFormatError, p);
    expect(error.message).toMatch(/below 100000000 bytes/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(20_000_000);
  });

  it('bad JSON', () => {
    const p = path('badjson.safetensors');
    writeRaw(p, '{"x": {"dtype": "F32", ', f32Bytes([1, 2]));
    expect(expectError(() => openSafetensors(p), FileFormatError, p).message).toMatch(/not valid JSON/);
  });

  it('a JSON header that is not an object', () => {
    const p = path('array.safetensors');
    writeRaw(p, '[1, 2, 3]', f32Bytes([1, 2]));
    expectError(() => openSafetensors(p), FileFormatError, p);
  });

  it('deeply nested JSON', () => {
    const p = path('nested.safetensors');
    writeRaw(p, `{"x": ${'['.repeat(200_000)}${']'.repeat(200_000)}}`, f32Bytes([1, 2]));
    expectError(() => openSafetensors(p), FileFormatError, p);
  });

  it('a header that is not UTF-8', () => {
    const p = path('latin1.safetensors');
    const header = Buffer.concat([Buffer.from('{"'), Buffer.from([0xff, 0xfe]), Buffer.from('":{}}   ')]);
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(header.length), 0);
    writeFileSync(p, Buffer.concat([prefix, header]));
    expectError(() => openSafetensors(p), FileFormatError, p);
  });

  it('overlapping offsets', () => {
    const p = path('overlap.safetensors');
    writeRaw(
      p,
      { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } },
      f32Bytes([1, 2, 3]),
    );
    expect(expectError(() => openSafetensors(p), FileFormatError, p).message).toMatch(/overlap/);
  });

  it('out-of-range offsets', () => {
    const p = path('range.safetensors');
    writeRaw(p, { a: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, f32Bytes([1, 2]));
    expectError(() => openSafetensors(p), FileFormatError, p);
    writeRaw(p, { a: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, f32Bytes([1, 2]));
    expectError(() => openSafetensors(p), FileFormatError, p);
    writeRaw(p, { a: { dtype: 'F32', shape: [2], data_offsets: [-8, 0] } }, f32Bytes([1, 2]));
    expectError(() => openSafetensors(p), FileFormatError, p);
    writeRaw(p, { a: { dtype: 'F32', shape: [2], data_offsets: [0] } }, f32Bytes([1, 2]));
    expectError(() => openSafetensors(p), FileFormatError, p);
  });

  it('a byte length that does not match shape × dtype size', () => {
    const p = path('length.safetensors');
    writeRaw(p, { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32Bytes([1, 2]));
    expect(expectError(() => openSafetensors(p), FileFormatError, p).message).toMatch(/needs 12 bytes/);
    // A shape whose element count overflows must not be trusted either.
    writeRaw(p, { a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, f32Bytes([1, 2]));
    expectError(() => openSafetensors(p), FileFormatError, p);
  });

  it('a bad shape', () => {
    const p = path('shape.safetensors');
    for (const shape of [[-2], [1.5], ['2'], 'x', null]) {
      writeRaw(p, { a: { dtype: 'F32', shape, data_offsets: [0, 8] } }, f32Bytes([1, 2]));
      expectError(() => openSafetensors(p), FileFormatError, p);
    }
  });

  it('an unknown dtype', () => {
    const p = path('dtype.safetensors');
    writeRaw(p, { a: { dtype: 'F7', shape: [2], data_offsets: [0, 8] } }, f32Bytes([1, 2]));
    expect(expectError(() => openSafetensors(p), FileFormatError, p).message).toMatch(/unknown dtype "F7"/);
  });

  it('a dtype the format lists but this reader does not decode: the file opens, that tensor alone is refused', () => {
    const p = path('mx.safetensors');
    // x: F32 [2] (8 bytes); scale: F8_E8M0 [2] (2 bytes); packed: F4 [4] (2 bytes); z: C64 [1] (8 bytes)
    const data = Buffer.concat([Buffer.from(f32Bytes([1.5, -2])), Buffer.from([127, 128]), Buffer.from([0x21, 0x43]), Buffer.from(f32Bytes([1, 0]))]);
    writeRaw(p, {
      x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      scale: { dtype: 'F8_E8M0', shape: [2], data_offsets: [8, 10] },
      packed: { dtype: 'F4', shape: [4], data_offsets: [10, 12] },
      z: { dtype: 'C64', shape: [1], data_offsets: [12, 20] },
    }, data);
    const handle = openSafetensors(p);
    try {
      expect(handle.keys()).toEqual(['packed', 'scale', 'x', 'z']);
      expect(Array.from(handle.read('x').data)).toEqual([1.5, -2]);
      expect(handle.entry('packed').dtype).toBe('F4');
      expect(Array.from(handle.readRaw('scale'))).toEqual([127, 128]);
      for (const name of ['scale', 'packed', 'z']) {
        const error = expectError(() => handle.read(name), UnsupportedError, p);
        expect(error.message).toContain(`"${name}"`);
      }
    } finally {
      handle.close();
    }
    // a whole-file read needs every tensor: refused up front, naming them
    const whole = expectError(() => readSafetensors(p), UnsupportedError, p);
    expect(whole.message).toContain('3 tensor(s)');
    for (const named of ['"packed" (F4)', '"scale" (F8_E8M0)', '"z" (C64)']) expect(whole.message).toContain(named);
    // as is a model component whose weights file holds one
    const component = join(dir, 'component');
    mkdirSync(component, { recursive: true });
    writeFileSync(join(component, 'config.json'), '{}');
    writeFileSync(join(component, 'diffusion_pytorch_model.safetensors'), readFileSync(p));
    expectError(() => loadComponent(component), UnsupportedError, join(component, 'diffusion_pytorch_model.safetensors'));
  });

  it('sub-byte dtypes: a tensor fills whole bytes (F6 × 4 = 3 bytes), or the header is refused', () => {
    const p = path('f6.safetensors');
    writeRaw(p, { a: { dtype: 'F6_E2M3', shape: [4], data_offsets: [0, 3] }, b: { dtype: 'F4', shape: [2, 3], data_offsets: [3, 6] } }, Buffer.from([1, 2, 3, 4, 5, 6]));
    const handle = openSafetensors(p);
    try {
      expect(Array.from(handle.readRaw('a'))).toEqual([1, 2, 3]);
      expect(Array.from(handle.readRaw('b'))).toEqual([4, 5, 6]);
    } finally {
      handle.close();
    }
    // 4 F6 values in 4 bytes (rounded up per element) is a byte-length mismatch
    writeRaw(p, { a: { dtype: 'F6_E2M3', shape: [4], data_offsets: [0, 4] } }, Buffer.from([0, 0, 0, 0]));
    expect(expectError(() => openSafetensors(p), FileFormatError, p).message).toMatch(/needs 3 bytes/);
    // 2 F6 values are 12 bits; 3 F4 values too
    for (const [dtype, shape] of [['F6_E3M2', [2]], ['F4', [3]]] as const) {
      writeRaw(p, { a: { dtype, shape, data_offsets: [0, 2] } }, Buffer.from([0, 0]));
      expect(expectError(() => openSafetensors(p), FileFormatError, p).message).toMatch(/12 bits, not a whole number of bytes/);
    }
  });

  it('metadata that is not string → string', () => {
    const p = path('meta.safetensors');
    writeRaw(p, { __metadata__: { format: 3 }, ...ok }, f32Bytes([1, 2]));
    expectError(() => openSafetensors(p), FileFormatError, p);
    writeRaw(p, { __metadata__: ['pt'], ...ok }, f32Bytes([1, 2]));
    expectError(() => openSafetensors(p), FileFormatError, p);
  });

  it('an I64 value that does not fit int32', () => {
    const p = path('i64.safetensors');
    const data = Buffer.alloc(16);
    data.writeBigInt64LE(5n, 0);
    data.writeBigInt64LE(2n ** 40n, 8);
    writeRaw(p, { ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, data);
    const error = expectError(() => readSafetensors(p), UnsupportedError, p);
    expect(error.message).toContain(String(2n ** 40n));
  });

  it('a U32 value above int32', () => {
    const p = path('u32.safetensors');
    const data = Buffer.alloc(4);
    data.writeUInt32LE(3_000_000_000, 0);
    writeRaw(p, { ids: { dtype: 'U32', shape: [1], data_offsets: [0, 4] } }, data);
    expectError(() => readSafetensors(p), UnsupportedError, p);
  });

  it('a folder or a missing file', () => {
    const d = path('a-folder');
    mkdirSync(d);
    expectError(() => openSafetensors(d), FileFormatError, d);
    expectError(() => openSafetensors(path('nope.safetensors')), FileFormatError, path('nope.safetensors'));
  });
});

describe('pickle checkpoints and missing folders', () => {
  const dir = tempDir();
  // The opening bytes of a protocol-2 pickle (what torch.save wrote before zip files): PROTO 2, then a dict.
  const pickle = Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x28, 0x58, 0x0a, 0x00, 0x00, 0x00]);

  it('a .ckpt single file is refused with advice to convert, without reading it as a pickle', () => {
    const p = join(dir, 'model.ckpt');
    writeFileSync(p, pickle);
    const error = expectError(() => loadSingleFileCheckpoint(p), UnsupportedError, p);
    expect(error.message).toMatch(/\.safetensors/);
  });

  it('pickle or zip bytes under a .safetensors name', () => {
    const p = join(dir, 'disguised.safetensors');
    writeFileSync(p, pickle);
    expectError(() => openSafetensors(p), UnsupportedError, p);
    writeFileSync(p, Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0, 0]));
    expectError(() => loadSingleFileCheckpoint(p), UnsupportedError, p);
  });

  it('a safetensors file whose header length starts with a pickle\'s or a zip\'s bytes is read, not refused', () => {
    // N = 640 = 0x0280 and N = 1408 = 0x0580 are written 80 02 … / 80 05 …; N = 0x04034b50 starts like a zip (too big to build)
    for (const n of [640, 1408]) {
      const p = join(dir, `header-${n}.safetensors`);
      writeRaw(p, JSON.stringify({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }).padEnd(n), f32Bytes([1.5]));
      expect(readFileSync(p)[0]).toBe(0x80);
      expect(Array.from(openSafetensors(p).read('x').data)).toEqual([1.5]);
    }
  });

  it('a component folder with only .bin weights', () => {
    const d = join(dir, 'unet-bin');
    mkdirSync(d);
    writeFileSync(join(d, 'config.json'), '{}');
    writeFileSync(join(d, 'diffusion_pytorch_model.bin'), pickle);
    const error = expectError(() => loadComponent(d), UnsupportedError, d);
    expect(error.message).toMatch(/safetensors/);
  });

  it('a missing component folder', () => {
    const d = join(dir, 'no-such-unet');
    const error = expectError(() => loadComponent(d), FileFormatError, d);
    expect(error.file).toBe(d);
  });

  it('a component folder without weights or without config.json', () => {
    const d = join(dir, 'empty-unet');
    mkdirSync(d);
    writeFileSync(join(d, 'config.json'), '{}');
    expectError(() => loadComponent(d), FileFormatError, d);
    const e = join(dir, 'no-config');
    mkdirSync(e);
    writeSafetensors(join(e, 'diffusion_pytorch_model.safetensors'), new Map([['w', { dtype: 'F32', shape: [1], data: [1] }]]));
    expectError(() => loadComponent(e), FileFormatError, join(e, 'config.json'));
  });
});

describe('malformed JSON configs (readJsonConfig)', () => {
  const dir = tempDir();

  it('a missing file names the file and the errno code', () => {
    const path = join(dir, 'absent.json');
    expect(expectError(() => readJsonConfig(path), FileFormatError, path).message).toContain('ENOENT');
  });

  it('invalid JSON names the file and the parser message; a non-object is refused', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"a": 1,');
    expect(expectError(() => readJsonConfig(bad), FileFormatError, bad).message).toMatch(/not valid JSON \(.+\)/);
    const list = join(dir, 'list.json');
    writeFileSync(list, '[1, 2]');
    expect(expectError(() => readJsonConfig(list, 'a JSON object of options (--config)'), FileFormatError, list).message).toMatch(
      /top-level value is not an object \(expected a JSON object of options \(--config\), a JSON object\)/,
    );
    const good = join(dir, 'good.json');
    writeFileSync(good, '{"sample_size": 8}');
    expect(readJsonConfig(good)).toEqual({ sample_size: 8 });
  });
});
