/**
 * Byte-level encoding of GPT-2/CLIP BPE (transformers `bytes_to_unicode`): every UTF-8 byte maps to one printable
 * unicode character, so BPE never sees whitespace or control characters and any text round-trips.
 *
 * The 188 printable bytes `!`..`~`, `¡`..`¬`, `®`..`ÿ` map to themselves; the other 68 bytes b map to U+0100 + n in
 * increasing byte order (n = 0, 1, …). Vocabulary entries 0–255 are these characters in this order.
 */

/** The 256 byte-level characters, indexed by byte value. */
export const BYTE_TO_UNICODE: readonly string[] = buildByteToUnicode();

/** Byte-level character → byte value. */
export const UNICODE_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_UNICODE.map((c, b) => [c, b]));

/** The 256 characters in vocabulary order (printable bytes first, then the remapped ones). */
export function bytesToUnicodeOrder(): string[] {
  const printable: number[] = [];
  for (let b = 0; b < 256; b++) if (isPrintable(b)) printable.push(b);
  const rest: number[] = [];
  for (let b = 0; b < 256; b++) if (!isPrintable(b)) rest.push(b);
  return [...printable, ...rest].map((b) => BYTE_TO_UNICODE[b] as string);
}

const encoder = new TextEncoder();

/** UTF-8 bytes of `text` as byte-level characters (one character per byte). */
export function byteEncode(text: string): string {
  let out = '';
  for (const byte of encoder.encode(text)) out += BYTE_TO_UNICODE[byte] as string;
  return out;
}

/**
 * Byte-level characters → bytes. Characters outside the 256-character alphabet (added tokens never reach here)
 * are encoded as their own UTF-8 bytes.
 */
export function byteDecode(text: string): Uint8Array {
  const bytes: number[] = [];
  for (const ch of text) {
    const b = UNICODE_TO_BYTE.get(ch);
    if (b !== undefined) bytes.push(b);
    else bytes.push(...encoder.encode(ch));
  }
  return Uint8Array.from(bytes);
}

function isPrintable(b: number): boolean {
  return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

function buildByteToUnicode(): string[] {
  const out = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    out[b] = isPrintable(b) ? String.fromCharCode(b) : String.fromCharCode(256 + n++);
  }
  return out;
}
