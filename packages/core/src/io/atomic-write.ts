/**
 * Atomic file writes: the content goes to a temporary file in the target's folder, is flushed to disk, then renamed
 * over the target (rename is atomic within one file system). On any failure the temporary file is removed and the
 * target is left as it was.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { EraseError, FileFormatError, InvalidOptionError } from '../errors/errors';

/** Largest single `writeSync` call (Node rejects buffers of 2 GiB and more in one call). */
const WRITE_CHUNK = 1 << 30;

/** Writes all of `bytes` at the current position of `fd`, looping over short writes. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) {
    const length = Math.min(WRITE_CHUNK, bytes.length - done);
    done += writeSync(fd, bytes, done, length);
  }
}

/** Options of `writeFileAtomic`. */
export interface AtomicWriteOptions {
  /** Create the target's folder (and its parents) first (default false). */
  readonly createFolder?: boolean;
}

/**
 * Creates `path` atomically: `content` (UTF-8 text, bytes, or a callback `write(fd)` that fills the file) goes to a
 * temporary file next to it, which then replaces `path`. Node only.
 * @throws FileFormatError naming `path` when the folder is missing or not writable; errors thrown by `write` pass through
 */
export function writeFileAtomic(path: string, content: string | Uint8Array | ((fd: number) => void), options: AtomicWriteOptions = {}): void {
  const write = typeof content === 'function' ? content : (fd: number) => writeAll(fd, typeof content === 'string' ? Buffer.from(content, 'utf8') : content);
  if (options.createFolder === true) {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (error) {
      throw new FileFormatError({ file: path, expected: 'a location whose folder can be created', problem: `cannot be written (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`, cause: error });
    }
  }
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'wx', 0o644);
    const returned: unknown = write(fd);
    if (returned !== undefined && typeof (returned as { then?: unknown } | null)?.then === 'function') {
      // an async writer would finish after the rename: the target would be replaced by a partial file. The target is
      // left alone; the descriptor and the temporary file are released only once the writer settles (closing now
      // could let its late writes land in whatever file reuses the descriptor number).
      const pending = fd;
      fd = undefined;
      const release = (): void => {
        try {
          closeSync(pending);
        } catch {
          // already closed
        }
        try {
          unlinkSync(temp);
        } catch {
          // already gone
        }
      };
      (returned as Promise<unknown>).then(release, release);
      throw new InvalidOptionError({ option: 'content', expected: 'a synchronous writer (fd) => void', received: 'a function returning a promise' });
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } catch (error) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the original error is the one to report
      }
    }
    if (!InvalidOptionError.isInstance(error) || error.option !== 'content') {
      try {
        unlinkSync(temp);
      } catch {
        // the temporary file may not exist (open failed) or was already renamed
      }
    }
    // file-system failures (errno codes) become a FileFormatError naming the file; the writer's own errors pass through
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (EraseError.isInstance(error) || typeof code !== 'string') throw error;
    throw new FileFormatError({ file: path, expected: 'a writable location', problem: `cannot be written (${code})`, cause: error });
  }
}

/** Writes a UTF-8 text file atomically. @throws FileFormatError naming `path` when it cannot be written */
export function writeTextFileAtomic(path: string, text: string): void {
  writeFileAtomic(path, (fd) => writeAll(fd, Buffer.from(text, 'utf8')));
}

/** Writes a JSON file atomically (2-space indent, trailing newline, as diffusers' `save_config`). */
export function writeJsonFileAtomic(path: string, value: unknown): void {
  writeTextFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
