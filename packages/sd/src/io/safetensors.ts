/**
 * safetensors reader with positional reads (`fs.readSync` at offsets), so files above 2 GiB work and only the
 * tensors asked for are read. Every header is validated first (see safetensors-header.ts).
 *
 * Format: u64 little-endian header length N, N bytes of JSON `{name: {dtype, shape, data_offsets}, __metadata__}`,
 * then the data area; offsets count from the end of the header.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { FileFormatError, InvalidOptionError, UnsupportedError } from '@erase/core';
import { decodeTensorBytes, isUndecodedDtype, type SafetensorsDtype } from './dtypes';
import { parseHeader, parseHeaderLength, type SafetensorsEntry } from './safetensors-header';

export type { SafetensorsDtype } from './dtypes';
export type { SafetensorsEntry } from './safetensors-header';

/** A tensor on the host: floats upcast to Float32Array, integers to Int32Array (values checked to fit int32). */
export interface HostTensor {
  readonly dtype: 'float32' | 'int32';
  /** The dtype stored in the file. */
  readonly fileDtype: SafetensorsDtype;
  /** PyTorch layout, row-major. */
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

/** A whole file read into memory. */
export interface SafetensorsFile {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: ReadonlyMap<string, HostTensor>;
}

/** An open safetensors file whose header has been validated; tensors are read on demand. Call `close()` when done. */
export interface SafetensorsHandle {
  readonly path: string;
  /** File size in bytes. */
  readonly size: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensor names, sorted. */
  keys(): string[];
  has(name: string): boolean;
  /** Header entry (dtype, shape, offsets) of one tensor. @throws InvalidOptionError for an unknown name */
  entry(name: string): SafetensorsEntry;
  /** Every header entry, keyed by name. */
  entries(): ReadonlyMap<string, SafetensorsEntry>;
  /**
   * Reads and decodes one tensor (a fresh array the caller owns).
   * @throws InvalidOptionError for an unknown name or a closed handle; FileFormatError when the file ended early;
   *   UnsupportedError when an integer value does not fit int32, or for a dtype this reader does not decode
   *   (`UndecodedDtype`: F8_E8M0, the FNUZ float8s, F4, F6_*, C64)
   */
  read(name: string): HostTensor;
  /** The tensor's raw little-endian bytes as stored (any dtype). */
  readRaw(name: string): Uint8Array;
  /** Closes the file descriptor (idempotent). */
  close(): void;
}

/** Largest single `readSync` call. */
const READ_CHUNK = 1 << 30;

/** Reads exactly `length` bytes at `position` into a fresh buffer. @throws FileFormatError on a short file */
function readAt(fd: number, file: string, position: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, out, done, Math.min(READ_CHUNK, length - done), position + done);
    if (n === 0) {
      throw new FileFormatError({ file, expected: `${length} bytes at offset ${position}`, problem: `the file ended after ${done} bytes (it changed or is truncated)` });
    }
    done += n;
  }
  return out;
}

/**
 * Recognises PyTorch pickle / zip checkpoints so they get a clear message instead of a header error. `prefix` holds
 * the first 9 bytes: a safetensors file (8-byte little-endian header length N, then a JSON header starting with `{`)
 * whose N happens to start with a pickle's or a zip's bytes (N = 640 is `80 02 …`) is not one.
 */
function pickleKind(prefix: Uint8Array, size: number): string | undefined {
  if (prefix.length >= 9 && prefix[8] === 0x7b) {
    const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
    if (n >= 2n && n <= BigInt(size - 8)) return undefined;
  }
  if (prefix[0] === 0x50 && prefix[1] === 0x4b && prefix[2] === 0x03 && prefix[3] === 0x04) return 'a PyTorch zip checkpoint (torch.save)';
  if (prefix[0] === 0x80 && (prefix[1] as number) >= 2 && (prefix[1] as number) <= 5) return 'a Python pickle';
  return undefined;
}

/** The message for pickle-based checkpoints, shared by the readers. */
export function pickleUnsupportedMessage(file: string, kind = 'a PyTorch pickle checkpoint (.ckpt/.pt/.pth/.bin)'): string {
  return (
    `${file} is ${kind}. Pickle files can run arbitrary code when loaded and are not read by this library. ` +
    'Convert it to .safetensors first, e.g. with diffusers: `StableDiffusionPipeline.from_single_file(path).save_pretrained(dir, ' +
    'safe_serialization=True)` or `scripts/convert_original_stable_diffusion_to_diffusers.py --from_safetensors` after ' +
    '`safetensors.torch.save_file(torch.load(path)["state_dict"], "model.safetensors")`.'
  );
}

/**
 * Opens a safetensors file and validates its header (the tensor data is not read).
 * @throws FileFormatError naming the file when it cannot be opened or its header is malformed;
 *   UnsupportedError when it is a pickle/zip PyTorch checkpoint
 */
export function openSafetensors(path: string): SafetensorsHandle {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new FileFormatError({ file: path, expected: 'a readable safetensors file', problem: `cannot be opened (${code})`, cause });
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new FileFormatError({ file: path, expected: 'a safetensors file', problem: 'is not a regular file' });
    const size = stats.size;
    const prefix = readAt(fd, path, 0, Math.min(9, size));
    const kind = pickleKind(prefix, size);
    if (kind) throw new UnsupportedError(pickleUnsupportedMessage(path, kind));
    const headerLength = parseHeaderLength(path, prefix, size);
    const header = parseHeader(path, readAt(fd, path, 8, headerLength), size);
    return makeHandle(path, fd, size, header.dataStart, header.metadata, header.entries);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

function makeHandle(
  path: string,
  fd: number,
  size: number,
  dataStart: number,
  metadata: Readonly<Record<string, string>>,
  entries: ReadonlyMap<string, SafetensorsEntry>,
): SafetensorsHandle {
  let open = true;
  const sortedKeys = [...entries.keys()].sort();
  const entry = (name: string): SafetensorsEntry => {
    const found = entries.get(name);
    if (!found) {
      throw new InvalidOptionError({ option: 'name', expected: `the name of one of the ${entries.size} tensors in ${path}`, received: name });
    }
    return found;
  };
  const readRaw = (name: string): Uint8Array => {
    const e = entry(name);
    if (!open) throw new InvalidOptionError({ option: 'handle', expected: `an open handle (${path} was closed)`, received: name });
    const [begin, end] = e.dataOffsets;
    return readAt(fd, path, dataStart + begin, end - begin);
  };
  return {
    path,
    size,
    metadata,
    keys: () => [...sortedKeys],
    has: (name) => entries.has(name),
    entry,
    entries: () => entries,
    readRaw,
    read(name: string): HostTensor {
      const e = entry(name);
      if (isUndecodedDtype(e.dtype)) {
        throw new UnsupportedError(
          `${path}: tensor "${name}" is stored as ${e.dtype}, which this reader does not decode (it decodes ${DECODED}); its raw bytes and the file's other tensors can still be read.`,
        );
      }
      const count = e.shape.reduce((a, b) => a * b, 1);
      const data = decodeTensorBytes(readRaw(name), e.dtype, count, { file: path, name });
      const dtype = data instanceof Float32Array ? 'float32' : 'int32';
      return { dtype, fileDtype: e.dtype, shape: [...e.shape], data };
    },
    close(): void {
      if (!open) return;
      open = false;
      closeSync(fd);
    },
  };
}

const DECODED = 'F64, F32, F16, BF16, F8_E4M3, F8_E5M2 and the integer dtypes';

/**
 * Refuses, before anything is decoded, a file whose every tensor is needed (a whole-file read, a model component)
 * when some are stored in dtypes this reader does not decode.
 * @throws UnsupportedError naming the file and the first such tensors
 */
export function checkAllDecodable(handle: SafetensorsHandle): void {
  const undecoded = [...handle.entries()].filter(([, e]) => isUndecodedDtype(e.dtype));
  if (undecoded.length === 0) return;
  const listed = undecoded.slice(0, 5).map(([name, e]) => `"${name}" (${e.dtype})`).join(', ');
  throw new UnsupportedError(
    `${handle.path}: ${undecoded.length} tensor(s) are stored in dtypes this reader does not decode: ${listed}${undecoded.length > 5 ? ', …' : ''}; it decodes ${DECODED}, and reading this file needs every tensor (openSafetensors() reads the others one by one).`,
  );
}

/**
 * Reads a whole safetensors file (every tensor decoded; see `openSafetensors` to read only some).
 * @throws FileFormatError naming the file; UnsupportedError for pickle checkpoints, int32 overflow or a tensor of a
 *   dtype this reader does not decode
 */
export function readSafetensors(path: string): SafetensorsFile {
  const handle = openSafetensors(path);
  try {
    checkAllDecodable(handle);
    const tensors = new Map<string, HostTensor>();
    for (const name of handle.keys()) tensors.set(name, handle.read(name));
    return { path, metadata: handle.metadata, tensors };
  } finally {
    handle.close();
  }
}

/** Reads only the header entries of a file (no tensor data). @throws as `openSafetensors` */
export function readSafetensorsHeader(path: string): {
  readonly metadata: Readonly<Record<string, string>>;
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;
} {
  const handle = openSafetensors(path);
  try {
    return { metadata: handle.metadata, entries: handle.entries() };
  } finally {
    handle.close();
  }
}
