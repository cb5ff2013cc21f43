/**
 * The text clean-up of transformers' slow `CLIPTokenizer` when ftfy is not installed (the default): a
 * `BasicTokenizer(do_lower_case=True, strip_accents=False, do_split_on_punc=False)`, as in transformers 4.33
 * `models/bert/tokenization_bert.py`.
 *
 * Steps: drop NUL, U+FFFD and control/format characters (general category C*, except \t \n \r); map whitespace
 * (\t \n \r and category Zs) to a space; put spaces around CJK ideographs; NFC; split on whitespace (Python
 * `str.split()`); lower-case each word; join with one space.
 */

/** Characters Python's `str.isspace()` accepts (what `str.split()` splits on). */
const PYTHON_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;
const PYTHON_STRIP = /^[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/gu;
const CONTROL = /^\p{C}$/u;
const SPACE_SEPARATOR = /^\p{Zs}$/u;

/** Runs the clean-up and returns the words joined by single spaces ("" for blank text). */
export function basicClean(text: string): string {
  return cleanText(text)
    .normalize('NFC')
    .split(PYTHON_WHITESPACE)
    .filter((word) => word.length > 0)
    .map((word) => word.toLowerCase())
    .join(' ');
}

/** Python `str.strip()`: removes leading and trailing characters for which `str.isspace()` is true. */
export function pythonStrip(text: string): string {
  return text.replace(PYTHON_STRIP, '');
}

/** `_clean_text` + `_tokenize_chinese_chars`: removes invalid/control characters, normalises whitespace, spaces CJK. */
export function cleanText(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) as number;
    if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
    if (isWhitespace(ch)) out += ' ';
    else if (isCjkIdeograph(cp)) out += ` ${ch} `;
    else out += ch;
  }
  return out;
}

/** transformers `_is_whitespace`: space, \t, \n, \r, or category Zs. */
function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || SPACE_SEPARATOR.test(ch);
}

/** transformers `_is_control`: category C* except \t, \n, \r (lone surrogates are Cs). */
function isControl(ch: string): boolean {
  if (ch === '\t' || ch === '\n' || ch === '\r') return false;
  return CONTROL.test(ch);
}

/** transformers `_is_chinese_char`: the CJK Unified Ideographs blocks (not Hangul, Hiragana or Katakana). */
export function isCjkIdeograph(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}
