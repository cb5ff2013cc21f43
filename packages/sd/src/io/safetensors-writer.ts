/**
 * safetensors writer: names sorted, tensors packed with no gaps, `__metadata__` first, the JSON header padded with
 * spaces to a multiple of 8 bytes (so the data area is 8-byte aligned), written atomically (temp file + rename).
 */
import { InvalidOptionError, ShapeMismatchError } from '@erase/core';
import { writeAll, writeFileAtomic } from '@erase/core';
import { DTYPE_SIZES, encodeTensorBytes, isFloatDtype, isSafetensorsDtype, type SafetensorsDtype } from './dtypes';
import type { HostTensor } from './safetensors';

/** A tensor to write: values in row-major order, stored as `dtype`. */
export interface TensorToWrite {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
}

/** Options of `writeSafetensors`. */
export interface WriteSafetensorsOptions {
  /** File dtype for HostTensors with dtype 'float32' (default 'F32'). TensorToWrite entries keep their own dtype. */
  readonly floatDtype?: 'F32' | 'F16' | 'BF16' | 'F64';
}

/**
 * The file dtype a tensor is written as: a TensorToWrite keeps its dtype; a HostTensor of float32 is written as
 * `floatDtype` (default F32: its values may have been changed since it was read), a HostTensor of int32 keeps its
 * integer `fileDtype` (I64 ids stay I64) or becomes I32.
 */
export function fileDtypeFor(tensor: TensorToWrite | HostTensor, floatDtype: SafetensorsDtype = 'F32'): SafetensorsDtype {
  if (tensor.dtype === 'float32') return floatDtype;
  if (tensor.dtype === 'int32') {
    const fileDtype = (tensor as HostTensor).fileDtype;
    return isSafetensorsDtype(fileDtype) && !isFloatDtype(fileDtype) ? fileDtype : 'I32';
  }
  return tensor.dtype;
}

/**
 * Writes tensors to a safetensors file atomically (an existing file at `path` is replaced only once the new one is
 * complete; nothing is left behind on failure).
 * @param tensors name → TensorToWrite (explicit file dtype) or HostTensor (see `fileDtypeFor`)
 * @param metadata `__metadata__` (string → string), e.g. `{ format: 'pt' }` for diffusers/transformers weights
 * @throws InvalidOptionError for a bad name, dtype, shape, metadata value or an integer value out of range;
 *   ShapeMismatchError when data length ≠ product of the shape; FileFormatError when the file cannot be written
 */
export function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, TensorToWrite | HostTensor>,
  metadata?: Readonly<Record<string, string>>,
  options: WriteSafetensorsOptions = {},
): void {
  const names = [...tensors.keys()].sort();
  const headerParts: string[] = [];
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null) {
      throw new InvalidOptionError({ option: 'metadata', expected: 'an object mapping strings to strings', received: metadata });
    }
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') {
        throw new InvalidOptionError({ option: `metadata["${key}"]`, expected: 'a string', received: value });
      }
    }
    headerParts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  const plan: { name: string; tensor: TensorToWrite | HostTensor; dtype: SafetensorsDtype }[] = [];
  let offset = 0;
  for (const name of names) {
    const tensor = tensors.get(name) as TensorToWrite | HostTensor;
    if (name === '__metadata__') {
      throw new InvalidOptionError({ option: 'tensors', expected: 'tensor names other than "__metadata__"', received: name });
    }
    const dtype = fileDtypeFor(tensor, options.floatDtype ?? 'F32');
    if (!isSafetensorsDtype(dtype)) {
      throw new InvalidOptionError({ option: `tensors["${name}"].dtype`, expected: `one of ${Object.keys(DTYPE_SIZES).join(', ')}`, received: dtype });
    }
    const shape = tensor.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new InvalidOptionError({ option: `tensors["${name}"].shape`, expected: 'an array of non-negative integers', received: shape });
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (tensor.data.length !== count) {
      throw new ShapeMismatchError({ what: `tensor "${name}": data of length ${tensor.data.length} for shape [${shape.join(', ')}]`, expected: shape, received: [tensor.data.length] });
    }
    const byteLength = count * DTYPE_SIZES[dtype];
    headerParts.push(`${JSON.stringify(name)}:{"dtype":"${dtype}","shape":[${shape.join(',')}],"data_offsets":[${offset},${offset + byteLength}]}`);
    plan.push({ name, tensor, dtype });
    offset += byteLength;
  }
  let header = Buffer.from(`{${headerParts.join(',')}}`, 'utf8');
  const padded = Math.ceil(header.length / 8) * 8;
  if (padded !== header.length) header = Buffer.concat([header, Buffer.alloc(padded - header.length, 0x20)]);
  // Tensors are encoded one at a time while writing (peak memory: one tensor); a bad value aborts the write and
  // writeFileAtomic removes the temporary file.
  writeFileAtomic(path, (fd) => {
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(header.length), 0);
    writeAll(fd, prefix);
    writeAll(fd, header);
    for (const { name, tensor, dtype } of plan) writeAll(fd, encodeTensorBytes(tensor.data, dtype, name));
  });
}
