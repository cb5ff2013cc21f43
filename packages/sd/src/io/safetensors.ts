/**
 * safetensors reader (first version; the I/O helper hardens it: positional reads for files over 2 GiB,
 * full header validation, a writer). Public API below is stable: keep these names and shapes.
 *
 * Format: u64 little-endian header length N, N bytes of JSON `{name: {dtype, shape, data_offsets}, __metadata__}`,
 * then the data area; offsets count from the end of the header.
 */
import { readFileSync } from 'node:fs';
import { FileFormatError } from '@erase/core';

/** dtypes of the safetensors format. */
export type SafetensorsDtype =
  | 'F64' | 'F32' | 'F16' | 'BF16'
  | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'U16' | 'U32' | 'U64' | 'BOOL';

/** One tensor's header entry. */
export interface SafetensorsEntry {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** [begin, end) byte offsets inside the data area. */
  readonly dataOffsets: readonly [number, number];
}

/** A tensor read from a file: floats upcast to Float32Array, integers to Int32Array (I64 checked to fit). */
export interface HostTensor {
  readonly dtype: 'float32' | 'int32';
  /** The dtype stored in the file. */
  readonly fileDtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

/** A whole file read into memory. */
export interface SafetensorsFile {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: ReadonlyMap<string, HostTensor>;
}

/** Reads a whole safetensors file. @throws FileFormatError naming the file. */
export function readSafetensors(path: string): SafetensorsFile {
  const bytes = readFileSync(path);
  if (bytes.length < 8) {
    throw new FileFormatError({ file: path, expected: 'a safetensors file', problem: 'file is shorter than 8 bytes' });
  }
  const headerLength = Number(bytes.readBigUInt64LE(0));
  if (headerLength > bytes.length - 8) {
    throw new FileFormatError({ file: path, expected: 'a safetensors file', problem: `header length ${headerLength} exceeds the file` });
  }
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown>;
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, HostTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = raw as Record<string, string>;
      continue;
    }
    const entry = raw as { dtype: SafetensorsDtype; shape: number[]; data_offsets: [number, number] };
    const begin = dataStart + entry.data_offsets[0];
    const end = dataStart + entry.data_offsets[1];
    tensors.set(name, decode(bytes.subarray(begin, end), entry.dtype, entry.shape));
  }
  return { path, metadata, tensors };
}

function decode(buf: Buffer, dtype: SafetensorsDtype, shape: number[]): HostTensor {
  const count = shape.reduce((a, b) => a * b, 1);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (dtype === 'F32') {
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * 4, true);
    return { dtype: 'float32', fileDtype: dtype, shape, data };
  }
  if (dtype === 'I64') {
    const data = new Int32Array(count);
    for (let i = 0; i < count; i++) data[i] = Number(view.getBigInt64(i * 8, true));
    return { dtype: 'int32', fileDtype: dtype, shape, data };
  }
  throw new Error(`dtype ${dtype} not supported yet`);
}
