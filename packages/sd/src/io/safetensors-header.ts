/**
 * Validation of a safetensors header. Every check runs on numbers read from the file before anything is allocated
 * from them, so a hostile or damaged file yields a `FileFormatError`, never a huge allocation or a hang.
 *
 * Layout: bytes [0, 8) = u64 LE header length N; [8, 8+N) = UTF-8 JSON object
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}`; then the data area, with
 * offsets counted from its start (byte 8 + N).
 */
import { FileFormatError } from '@erase/core';
import { DTYPE_SIZES, UNDECODED_DTYPE_BITS, isSafetensorsDtype, isUndecodedDtype, type SafetensorsDtype, type UndecodedDtype } from './dtypes';

/** Headers larger than this are rejected (the reference Rust implementation uses the same 100 MB cap). */
export const MAX_HEADER_BYTES = 100_000_000;

/** One tensor's header entry. */
export interface SafetensorsEntry {
  /** The stored dtype; an `UndecodedDtype` tensor is listed and its bytes readable, but `read()` refuses it. */
  readonly dtype: SafetensorsDtype | UndecodedDtype;
  readonly shape: readonly number[];
  /** [begin, end) byte offsets inside the data area. */
  readonly dataOffsets: readonly [number, number];
}

/** A validated header. */
export interface SafetensorsHeader {
  readonly headerLength: number;
  /** Absolute file offset of the data area (8 + headerLength). */
  readonly dataStart: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** Entries in the order they appear in the header. */
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;
}

const EXPECTED = 'a safetensors file (u64 header length, JSON header, data)';

/**
 * Checks the 8-byte prefix and returns the header length.
 * @throws FileFormatError when the file is too short, or the length is past the file or above MAX_HEADER_BYTES
 */
export function parseHeaderLength(file: string, prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw new FileFormatError({ file, expected: EXPECTED, problem: `the file is ${fileSize} bytes long, shorter than the 8-byte header length` });
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const length = view.getBigUint64(0, true);
  if (length > BigInt(fileSize - 8)) {
    throw new FileFormatError({
      file,
      expected: EXPECTED,
      problem: `the header length field says ${length} bytes but only ${fileSize - 8} bytes follow it (truncated or not a safetensors file)`,
    });
  }
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new FileFormatError({ file, expected: `${EXPECTED} with a header below ${MAX_HEADER_BYTES} bytes`, problem: `the header length field says ${length} bytes` });
  }
  if (length < 2n) {
    throw new FileFormatError({ file, expected: EXPECTED, problem: `the header length field says ${length} bytes, too short for a JSON object` });
  }
  return Number(length);
}

/**
 * Parses and validates the JSON header bytes against the file size.
 * @throws FileFormatError naming the file and the first problem found
 */
export function parseHeader(file: string, headerBytes: Uint8Array, fileSize: number): SafetensorsHeader {
  const headerLength = headerBytes.length;
  const dataStart = 8 + headerLength;
  const dataSize = fileSize - dataStart;
  const fail = (problem: string, expected = EXPECTED): FileFormatError => new FileFormatError({ file, expected, problem });

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch (cause) {
    throw new FileFormatError({ file, expected: 'a UTF-8 JSON header', problem: 'the header is not valid UTF-8', cause });
  }
  let end = text.length; // strip the padding (spaces; some writers pad with NUL) without a backtracking regex
  while (end > 0 && ' \n\r\t\0'.includes(text.charAt(end - 1))) end--;
  text = text.slice(0, end);
  if (!text.startsWith('{')) throw fail('the header does not start with "{"', 'a JSON object header');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new FileFormatError({ file, expected: 'a JSON object header', problem: `the header is not valid JSON (${(cause as Error).message})`, cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw fail('the header is not a JSON object', 'a JSON object header');

  let metadata: Record<string, string> = {};
  const entries = new Map<string, SafetensorsEntry>();
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(raw, fail);
      continue;
    }
    entries.set(name, parseEntry(name, raw, dataSize, fail));
  }
  checkOverlaps(entries, fail);
  return { headerLength, dataStart, metadata, entries };
}

function parseMetadata(raw: unknown, fail: (problem: string, expected?: string) => FileFormatError): Record<string, string> {
  if (raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw fail('"__metadata__" is not an object', '"__metadata__" to map strings to strings');
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof value !== 'string') {
      throw fail(`"__metadata__"."${key}" is ${value === null ? 'null' : typeof value}`, '"__metadata__" to map strings to strings');
    }
    out[key] = value;
  }
  return out;
}

function parseEntry(
  name: string,
  raw: unknown,
  dataSize: number,
  fail: (problem: string, expected?: string) => FileFormatError,
): SafetensorsEntry {
  const where = `tensor "${name}"`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw fail(`${where} is not an object`, 'each tensor entry to be {dtype, shape, data_offsets}');
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (!isSafetensorsDtype(dtype) && !isUndecodedDtype(dtype)) {
    throw fail(`${where} has unknown dtype ${JSON.stringify(dtype)}`, `a dtype among ${[...Object.keys(DTYPE_SIZES), ...Object.keys(UNDECODED_DTYPE_BITS)].join(', ')}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw fail(`${where} has shape ${JSON.stringify(shape)}`, 'a shape made of non-negative integers');
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)
  ) {
    throw fail(`${where} has data_offsets ${JSON.stringify(offsets)}`, 'data_offsets = [begin, end], non-negative integers');
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw fail(`${where} has data_offsets [${begin}, ${end}] with begin after end`, 'begin <= end');
  if (end > dataSize) {
    throw fail(`${where} has data_offsets [${begin}, ${end}] past the end of the data area (${dataSize} bytes)`, 'offsets inside the data area');
  }
  let count = 1;
  for (const d of shape as number[]) count *= d;
  if (isUndecodedDtype(dtype) && (count * UNDECODED_DTYPE_BITS[dtype]) % 8 !== 0) {
    throw fail(`${where} (${dtype} [${(shape as number[]).join(', ')}]) is ${count * UNDECODED_DTYPE_BITS[dtype]} bits, not a whole number of bytes`, 'a sub-byte dtype tensor to fill whole bytes');
  }
  const byteLength = isUndecodedDtype(dtype) ? (count * UNDECODED_DTYPE_BITS[dtype]) / 8 : count * DTYPE_SIZES[dtype];
  if (!Number.isSafeInteger(byteLength) || byteLength !== end - begin) {
    throw fail(
      `${where} (${dtype} [${(shape as number[]).join(', ')}]) needs ${byteLength} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
      'shape × dtype size equal to the byte length',
    );
  }
  return { dtype, shape: [...(shape as number[])], dataOffsets: [begin, end] };
}

function checkOverlaps(
  entries: ReadonlyMap<string, SafetensorsEntry>,
  fail: (problem: string, expected?: string) => FileFormatError,
): void {
  const spans = [...entries]
    .filter(([, e]) => e.dataOffsets[1] > e.dataOffsets[0])
    .sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0]);
  for (let i = 1; i < spans.length; i++) {
    const [prevName, prev] = spans[i - 1] as [string, SafetensorsEntry];
    const [name, cur] = spans[i] as [string, SafetensorsEntry];
    if (cur.dataOffsets[0] < prev.dataOffsets[1]) {
      throw fail(
        `tensors "${prevName}" [${prev.dataOffsets.join(', ')}] and "${name}" [${cur.dataOffsets.join(', ')}] overlap`,
        'non-overlapping data_offsets',
      );
    }
  }
}
