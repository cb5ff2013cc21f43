/**
 * A tiny diffusers pipeline folder built from the parity fixtures (clip-text-tiny, unet-tiny-sd1, vae-tiny) plus a
 * byte-level tokenizer whose ids fit the tiny text model's 1000-row vocabulary (<bos> = 998, <eos> = 999 as in the
 * clip-text-tiny fixture). Written into a temp folder; returns its path.
 */
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SD_SCHEDULER_CONFIG } from '../../src/stable-diffusion/index';
import { fixture } from '../parity';

/** GPT-2/CLIP byte → printable unicode symbol table. */
function byteSymbols(): string[] {
  const printable = [
    ...Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => 0x21 + i),
    ...Array.from({ length: 0xac - 0xa1 + 1 }, (_, i) => 0xa1 + i),
    ...Array.from({ length: 0xff - 0xae + 1 }, (_, i) => 0xae + i),
  ];
  const table: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) table[b] = printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  return table;
}

/** Writes the tokenizer files (no merges: every word is spelled byte by byte). */
export function writeTinyTokenizer(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const vocab: Record<string, number> = {};
  const symbols = byteSymbols();
  symbols.forEach((s, i) => (vocab[s] = i));
  symbols.forEach((s, i) => (vocab[`${s}</w>`] = 256 + i));
  vocab['<|startoftext|>'] = 998;
  vocab['<|endoftext|>'] = 999;
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\n');
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({ model_max_length: 77, bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', unk_token: '<|endoftext|>' }),
  );
}

/** Builds the pipeline folder and returns its path. */
export function writeTinyPipeline(): string {
  const root = mkdtempSync(join(tmpdir(), 'erase-tiny-sd-'));
  const copy = (from: string, files: [string, string][], to: string): void => {
    mkdirSync(join(root, to), { recursive: true });
    for (const [src, dst] of files) copyFileSync(fixture('parity', from, src), join(root, to, dst));
  };
  copy('clip-text-tiny', [['config.json', 'config.json'], ['model.safetensors', 'model.safetensors']], 'text_encoder');
  copy('unet-tiny-sd1', [['config.json', 'config.json'], ['diffusion_pytorch_model.safetensors', 'diffusion_pytorch_model.safetensors']], 'unet');
  copy('vae-tiny', [['config.json', 'config.json'], ['diffusion_pytorch_model.safetensors', 'diffusion_pytorch_model.safetensors']], 'vae');
  writeTinyTokenizer(join(root, 'tokenizer'));
  mkdirSync(join(root, 'scheduler'));
  writeFileSync(join(root, 'scheduler', 'scheduler_config.json'), JSON.stringify({ ...SD_SCHEDULER_CONFIG, _class_name: 'DDIMScheduler' }));
  writeFileSync(
    join(root, 'model_index.json'),
    JSON.stringify({
      _class_name: 'StableDiffusionPipeline',
      _diffusers_version: '0.25.1',
      scheduler: ['diffusers', 'DDIMScheduler'],
      text_encoder: ['transformers', 'CLIPTextModel'],
      tokenizer: ['transformers', 'CLIPTokenizer'],
      unet: ['diffusers', 'UNet2DConditionModel'],
      vae: ['diffusers', 'AutoencoderKL'],
      safety_checker: [null, null],
      feature_extractor: [null, null],
    }),
  );
  return root;
}
