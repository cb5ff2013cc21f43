/**
 * Test helpers for the I/O tests: temporary folders and a raw safetensors builder that is independent of the
 * library's writer (so malformed files can be made and the writer's output can be checked against it).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/** A fresh temporary folder, removed by `removeTempDirs()`. */
export function tempDir(prefix = 'erase-io-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes every folder made by `tempDir()`. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * Writes `[u64 length][header][data]` byte for byte. `header` is used verbatim when a string; `lengthField`
 * overrides the length written in the first 8 bytes.
 */
export function writeRaw(
  path: string,
  header: string | object,
  data: Uint8Array = new Uint8Array(0),
  options: { lengthField?: bigint; pad?: boolean } = {},
): void {
  let text = typeof header === 'string' ? header : JSON.stringify(header);
  if (options.pad ?? true) while (Buffer.byteLength(text) % 8 !== 0) text += ' ';
  const headerBytes = Buffer.from(text, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(options.lengthField ?? BigInt(headerBytes.length), 0);
  writeFileSync(path, Buffer.concat([prefix, headerBytes, Buffer.from(data)]));
}

/** Little-endian float32 bytes of `values`. */
export function f32Bytes(values: readonly number[]): Uint8Array {
  const out = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => out.writeFloatLE(v, i * 4));
  return out;
}

/** Little-endian uint16 bytes of `values` (bit patterns for F16 / BF16). */
export function u16Bytes(values: readonly number[]): Uint8Array {
  const out = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => out.writeUInt16LE(v, i * 2));
  return out;
}

/** Parses a safetensors file by hand: header object, header length and data area bytes. */
export function parseRaw(bytes: Buffer): { headerLength: number; headerText: string; header: Record<string, unknown>; data: Buffer } {
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const headerText = bytes.subarray(8, 8 + headerLength).toString('utf8');
  return { headerLength, headerText, header: JSON.parse(headerText) as Record<string, unknown>, data: bytes.subarray(8 + headerLength) };
}
