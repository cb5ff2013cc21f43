/**
 * A SHA-256 fingerprint of the weight files a model was loaded from, so a saved erasure can refuse to be applied to
 * another base model. Files are hashed, not tensors in memory: the fingerprint is the same before and after a method
 * edits the model in place, and the files themselves are only read.
 *
 * What is hashed:
 *   a diffusers folder (StableDiffusion.fromPretrained, or the embedded world's `dir`): every `*.safetensors` file in
 *     its `text_encoder/`, `unet/` and `vae/` folders (the oracle and other extras are not part of the model);
 *   a single file (StableDiffusion.fromSingleFile): that file.
 * sha256 = SHA-256 over the lines `${relativePath}\0${bytes}\0${fileSha256}\n`, relative paths with `/`, sorted.
 */
import { closeSync, existsSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, relative, resolve, sep } from 'node:path';
import { FileFormatError, UnsupportedError, type DiffusionModel } from '@erase/core';
import { ShapesWorldModel } from '@erase/shapes-world';

/** One hashed file. */
export interface FingerprintFile {
  /** Relative to the model folder (`/`-separated), or the file's base name for a single file. */
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** The fingerprint of a model's base weights. Plain JSON (written into `erase_config.json`). */
export interface BaseFingerprint {
  /** The model's `source` (a folder, a file, or `embedded:shapes-world`). */
  readonly source: string;
  /** The hex SHA-256 of the file list (see the file comment). */
  readonly sha256: string;
  readonly files: readonly FingerprintFile[];
}

/** Component folders whose weights make up the model. */
const WEIGHT_FOLDERS = ['text_encoder', 'unet', 'vae'];
const CHUNK = 1 << 24;

/** The folder or single file a model was loaded from, or undefined when it did not come from disk. */
export function modelLocation(model: DiffusionModel): { kind: 'folder' | 'file'; path: string } | undefined {
  if (model instanceof ShapesWorldModel) return { kind: 'folder', path: resolve(model.dir) };
  if (typeof model.source !== 'string' || !existsSync(model.source)) return undefined;
  return { kind: statSync(model.source).isDirectory() ? 'folder' : 'file', path: resolve(model.source) };
}

/** Hex SHA-256 of a file, read in 16 MiB chunks. @throws FileFormatError naming the file when it cannot be read */
export function sha256File(path: string): { sha256: string; bytes: number } {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(CHUNK);
  let fd: number | undefined;
  let bytes = 0;
  try {
    fd = openSync(path, 'r');
    for (;;) {
      const n = readSync(fd, buffer, 0, CHUNK, null);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
      bytes += n;
    }
  } catch (cause) {
    throw new FileFormatError({ file: path, expected: 'a readable weight file', problem: `cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, cause });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return { sha256: hash.digest('hex'), bytes };
}

function weightFilesOf(folder: string): string[] {
  const files: string[] = [];
  for (const part of WEIGHT_FOLDERS) {
    const dir = join(folder, part);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) continue;
    for (const name of readdirSync(dir)) if (name.endsWith('.safetensors') && statSync(join(dir, name)).isFile()) files.push(join(dir, name));
  }
  return files;
}

/**
 * Fingerprints the weight files `model` was loaded from (see the file comment). Call it before or after a method
 * edits the model: the files do not change. Synchronous, with no progress events or abort: it reads every byte
 * (sha256 ran at ≈ 0.9 GB/s on this project's 2-core machine, so ≈ 5 s for SD 1.5's 4.2 GB of float32 weights, more
 * from a cold disk); the CLI computes it once, before the method runs.
 * @throws UnsupportedError for a model that was not loaded from disk (its `source` is not a folder or file);
 *   FileFormatError when a folder holds no weight files or a file cannot be read
 */
export function baseFingerprint(model: DiffusionModel): BaseFingerprint {
  const location = modelLocation(model);
  if (!location) {
    throw new UnsupportedError(
      `Cannot fingerprint the base weights of "${model.source}": it is neither a folder nor a file on disk (load the model with StableDiffusion.fromPretrained/fromSingleFile or loadShapesWorld).`,
    );
  }
  const paths = location.kind === 'file' ? [location.path] : weightFilesOf(location.path);
  if (paths.length === 0) {
    throw new FileFormatError({ file: location.path, expected: `weight files (*.safetensors) in ${WEIGHT_FOLDERS.join('/, ')}/`, problem: 'none found' });
  }
  const files = paths
    .map((path) => {
      const name = location.kind === 'file' ? (path.split(sep).pop() as string) : relative(location.path, path).split(sep).join('/');
      return { path: name, ...sha256File(path) };
    })
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const total = createHash('sha256');
  for (const f of files) total.update(`${f.path}\0${f.bytes}\0${f.sha256}\n`);
  return { source: model.source, sha256: total.digest('hex'), files };
}
