/**
 * safetensors reader (fixtures, handle API, offsets beyond 4 GiB) and writer (layout, round trips for every dtype,
 * atomic writes).
 */
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidOptionError, ShapeMismatchError } from '@erase/core';
import {
  openSafetensors,
  readSafetensors,
  writeSafetensors,
  type HostTensor,
  type TensorToWrite,
} from '../../src/io/index';
import { fixture } from '../parity';
import { f32Bytes, parseRaw, removeTempDirs, tempDir, writeRaw } from './helpers';

afterAll(removeTempDirs);

describe('reading the parity fixtures', () => {
  it('reads the tiny UNet: 304 F32 tensors, 1,106,212 values, metadata format=pt', () => {
    const file = readSafetensors(fixture('parity/unet-tiny-sd1/diffusion_pytorch_model.safetensors'));
    expect(file.tensors.size).toBe(304);
    let values = 0;
    for (const t of file.tensors.values()) {
      expect(t.dtype).toBe('float32');
      expect(t.fileDtype).toBe('F32');
      values += t.data.length;
    }
    expect(values).toBe(1106212);
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(file.tensors.get('conv_in.weight')?.shape).toEqual([32, 4, 3, 3]);
  });

  it('decodes values equal to a by-hand parse of the same bytes', () => {
    const path = fixture('parity/vae-tiny/diffusion_pytorch_model.safetensors');
    const raw = parseRaw(readFileSync(path));
    const file = readSafetensors(path);
    for (const name of ['decoder.conv_in.weight', 'encoder.mid_block.attentions.0.to_q.weight', 'post_quant_conv.bias']) {
      const entry = raw.header[name] as { data_offsets: [number, number] };
      const [begin, end] = entry.data_offsets;
      const expected: number[] = [];
      for (let at = begin; at < end; at += 4) expected.push(raw.data.readFloatLE(at));
      expect(Array.from(file.tensors.get(name)?.data ?? [])).toEqual(expected);
    }
  });

  it('reads I64 input ids as int32', () => {
    const file = readSafetensors(fixture('parity/clip-text-tiny/case_batch2.safetensors'));
    const ids = file.tensors.get('input_ids') as HostTensor;
    expect(ids.dtype).toBe('int32');
    expect(ids.fileDtype).toBe('I64');
    expect(ids.shape).toEqual([2, 77]);
    // README: row 0 = 998, 7 random ids, 999, then 999 padding; row 1 = 998, 75 ids, 999.
    expect(ids.data[0]).toBe(998);
    expect(ids.data[8]).toBe(999);
    expect(ids.data[76]).toBe(999);
    expect(ids.data[77]).toBe(998);
    expect(ids.data[153]).toBe(999);
  });
});

describe('openSafetensors handle', () => {
  it('lists sorted keys, gives entries, reads single tensors and raw bytes', () => {
    const dir = tempDir();
    const path = join(dir, 'h.safetensors');
    writeRaw(
      path,
      {
        __metadata__: { note: 'hand made' },
        zeta: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        alpha: { dtype: 'F32', shape: [1, 2], data_offsets: [8, 16] },
      },
      f32Bytes([1.5, -2, 3.25, 4]),
    );
    const handle = openSafetensors(path);
    expect(handle.keys()).toEqual(['alpha', 'zeta']);
    expect(handle.metadata).toEqual({ note: 'hand made' });
    expect(handle.entry('alpha')).toEqual({ dtype: 'F32', shape: [1, 2], dataOffsets: [8, 16] });
    expect(Array.from(handle.read('alpha').data)).toEqual([3.25, 4]);
    expect(Array.from(handle.read('zeta').data)).toEqual([1.5, -2]);
    expect(Array.from(handle.readRaw('zeta'))).toEqual(Array.from(f32Bytes([1.5, -2])));
    expect(() => handle.read('missing')).toThrow(InvalidOptionError);
    handle.close();
    handle.close();
    expect(() => handle.read('alpha')).toThrow(InvalidOptionError);
  });

  it('reads a tensor stored past 4 GiB with positional reads (sparse file)', () => {
    const dir = tempDir();
    const path = join(dir, 'big.safetensors');
    const far = 2 ** 32 + 24; // beyond 32-bit offsets and beyond Buffer/readFile limits
    const header = JSON.stringify({
      near: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      far: { dtype: 'F32', shape: [2], data_offsets: [far, far + 8] },
    }).padEnd(160, ' ');
    expect(header.length).toBe(160);
    writeRaw(path, header, f32Bytes([7, 8]));
    const fd = openSync(path, 'r+');
    writeSync(fd, f32Bytes([42.5, -1.25]), 0, 8, 8 + 160 + far);
    closeSync(fd);
    const handle = openSafetensors(path);
    expect(handle.size).toBe(8 + 160 + far + 8);
    expect(Array.from(handle.read('far').data)).toEqual([42.5, -1.25]);
    expect(Array.from(handle.read('near').data)).toEqual([7, 8]);
    handle.close();
  });
});

describe('writeSafetensors', () => {
  const all: [string, TensorToWrite][] = [
    ['f64', { dtype: 'F64', shape: [3], data: [0.1, -1e300, 2.5] }],
    ['f32', { dtype: 'F32', shape: [2, 2], data: [1.5, -0, 3e-40, 65504] }],
    ['f16', { dtype: 'F16', shape: [4], data: [1, -2, 2 ** -24, 65504] }],
    ['bf16', { dtype: 'BF16', shape: [3], data: [1, -3, 2 ** -133] }],
    ['i64', { dtype: 'I64', shape: [3], data: [-2147483648, 2147483647, 0] }],
    ['i32', { dtype: 'I32', shape: [2], data: [-5, 7] }],
    ['i16', { dtype: 'I16', shape: [2], data: [-32768, 32767] }],
    ['i8', { dtype: 'I8', shape: [2], data: [-128, 127] }],
    ['u8', { dtype: 'U8', shape: [2], data: [0, 255] }],
    ['u16', { dtype: 'U16', shape: [2], data: [0, 65535] }],
    ['u32', { dtype: 'U32', shape: [2], data: [0, 2147483647] }],
    ['u64', { dtype: 'U64', shape: [1], data: [123456] }],
    ['bool', { dtype: 'BOOL', shape: [3], data: [1, 0, 1] }],
    ['empty', { dtype: 'F32', shape: [0, 3], data: [] }],
    ['scalar', { dtype: 'F32', shape: [], data: [9] }],
  ];

  it('round-trips every dtype with its values, shapes and metadata', () => {
    const dir = tempDir();
    const path = join(dir, 'all.safetensors');
    writeSafetensors(path, new Map(all), { format: 'pt', note: 'ü' });
    const back = readSafetensors(path);
    expect(back.metadata).toEqual({ format: 'pt', note: 'ü' });
    expect([...back.tensors.keys()]).toEqual(all.map(([n]) => n).sort());
    for (const [name, tensor] of all) {
      const read = back.tensors.get(name) as HostTensor;
      expect(read.fileDtype, name).toBe(tensor.dtype);
      expect(read.shape, name).toEqual(tensor.shape);
      const expected = tensor.dtype === 'F64' || tensor.dtype === 'F32' ? Array.from(tensor.data, (v) => Math.fround(v)) : Array.from(tensor.data);
      expect(Array.from(read.data), name).toEqual(expected);
    }
  });

  it('lays the file out as the format says: sorted names, no gaps, header padded with spaces to 8 bytes', () => {
    const dir = tempDir();
    const path = join(dir, 'layout.safetensors');
    writeSafetensors(path, new Map(all), { format: 'pt' });
    const bytes = readFileSync(path);
    const raw = parseRaw(bytes);
    expect(raw.headerLength % 8).toBe(0);
    expect(raw.headerText).toMatch(/^\{"__metadata__":\{"format":"pt"\},/);
    expect(raw.headerText.trimEnd().endsWith('}')).toBe(true);
    expect(/^ *$/.test(raw.headerText.slice(raw.headerText.trimEnd().length))).toBe(true);
    const names = Object.keys(raw.header).filter((k) => k !== '__metadata__');
    expect(names).toEqual([...names].sort());
    let offset = 0;
    for (const name of names) {
      const [begin, end] = (raw.header[name] as { data_offsets: [number, number] }).data_offsets;
      expect(begin, name).toBe(offset);
      offset = end;
    }
    expect(8 + raw.headerLength + offset).toBe(bytes.length);
  });

  it('writes HostTensors: float32 as F32 (or floatDtype), int32 keeping an integer fileDtype', () => {
    const dir = tempDir();
    const path = join(dir, 'host.safetensors');
    const ids: HostTensor = { dtype: 'int32', fileDtype: 'I64', shape: [2], data: Int32Array.from([5, 6]) };
    const w: HostTensor = { dtype: 'float32', fileDtype: 'F16', shape: [2], data: Float32Array.from([0.5, 1]) };
    writeSafetensors(path, new Map([['ids', ids], ['w', w]]));
    const back = readSafetensors(path);
    expect(back.tensors.get('ids')?.fileDtype).toBe('I64');
    expect(back.tensors.get('w')?.fileDtype).toBe('F32');
    writeSafetensors(path, new Map([['w', w]]), undefined, { floatDtype: 'BF16' });
    expect(readSafetensors(path).tensors.get('w')?.fileDtype).toBe('BF16');
  });

  it('rejects bad input without leaving files behind, keeping an existing target unchanged', () => {
    const dir = tempDir();
    const path = join(dir, 'keep.safetensors');
    writeFileSync(path, 'original');
    const bad = (tensors: Map<string, TensorToWrite>, metadata?: Record<string, string>) => () => writeSafetensors(path, tensors, metadata);
    expect(bad(new Map([['x', { dtype: 'I8', shape: [1], data: [200] }]]))).toThrow(InvalidOptionError);
    expect(bad(new Map([['x', { dtype: 'I32', shape: [1], data: [1.5] }]]))).toThrow(InvalidOptionError);
    expect(bad(new Map([['x', { dtype: 'F32', shape: [3], data: [1, 2] }]]))).toThrow(ShapeMismatchError);
    expect(bad(new Map([['x', { dtype: 'F32', shape: [-1], data: [] }]]))).toThrow(InvalidOptionError);
    expect(bad(new Map([['x', { dtype: 'F9' as 'F32', shape: [1], data: [1] }]]))).toThrow(InvalidOptionError);
    expect(bad(new Map([['__metadata__', { dtype: 'F32', shape: [1], data: [1] }]]))).toThrow(InvalidOptionError);
    expect(bad(new Map(), { n: 3 as unknown as string })).toThrow(InvalidOptionError);
    expect(readFileSync(path, 'utf8')).toBe('original');
    expect(readdirSync(dir)).toEqual(['keep.safetensors']);
  });

  it('names the file when the folder does not exist', () => {
    const dir = tempDir();
    const path = join(dir, 'missing', 'x.safetensors');
    let error: unknown;
    try {
      writeSafetensors(path, new Map([['x', { dtype: 'F32', shape: [1], data: [1] }]]));
    } catch (e) {
      error = e;
    }
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect((error as FileFormatError).file).toBe(path);
  });
});
