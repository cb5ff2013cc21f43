// CLIP BPE tokenizer (transformers 4.33 slow CLIPTokenizer, default text path).
export { CLIPTokenizer, cleanUpTokenization } from './clip-tokenizer';
export type { CLIPTokenizerInit, CLIPTokenizeOptions, CLIPTokenizerOutput, CLIPDecodeOptions } from './clip-tokenizer';
export { parseMergesTxt, parseTokenizerJson, readTokenizerFolder, CLIP_MAX_MERGES } from './load';
export { basicClean } from './basic-tokenizer';
export { BYTE_TO_UNICODE, bytesToUnicodeOrder, byteEncode, byteDecode } from './byte-level';
export { BpeModel, END_OF_WORD } from './bpe';
