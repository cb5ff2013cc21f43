/**
 * Folder-level atomic writes: everything goes into a hidden temporary sibling of the target folder, which is renamed
 * onto the target only once complete, so the target appears whole or not at all (rename is atomic within one file
 * system). A target that already holds entries is refused unless `overwrite`; then the old folder is moved aside,
 * the new one renamed in, and the old one removed. On any failure (including an abort) the temporary folder is removed,
 * and so are the parent folders this call created while they are left empty; an existing target is left as it was.
 */
import { existsSync, mkdirSync, readdirSync, realpathSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, relative, resolve, isAbsolute, sep } from 'node:path';
import { AbortedError, EraseError, FileFormatError, InvalidOptionError } from '@erase/core';

/** A path a folder write must neither replace, move aside, nor write into: a model's folder or file, a saved erasure. */
export interface ProtectedPath {
  readonly path: string;
  /** What it is, for the message ("the model (--model)"). */
  readonly what: string;
}

/** `p` with symbolic links resolved as far as it exists (the rest appended), so two spellings of one place compare equal. */
function canonical(p: string): string {
  let head = resolve(p);
  const rest: string[] = [];
  while (!existsSync(head)) {
    const up = dirname(head);
    if (up === head) break;
    rest.unshift(basename(head));
    head = up;
  }
  try {
    head = realpathSync(head);
  } catch {
    // unreadable: compare as spelled
  }
  return join(head, ...rest);
}

/** Whether `inner` is `outer` or lies below it. */
function within(inner: string, outer: string): boolean {
  const r = relative(outer, inner);
  return r === '' || (r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r)); // a child named "..cache" is inside
}

/**
 * Refuses a target folder that is, contains, or lies inside a protected path: replacing it (`overwrite` moves the old
 * folder aside and deletes it) would destroy the model or erasure being read, and writing inside it would change it.
 * @throws InvalidOptionError naming `option` and the protected path
 */
export function checkOutsideProtected(dir: string, protect: readonly ProtectedPath[], option = 'dir'): void {
  const target = canonical(dir);
  for (const p of protect) {
    const guarded = canonical(p.path);
    const relation = target === guarded ? 'is' : within(guarded, target) ? 'contains' : within(target, guarded) ? 'lies inside' : undefined;
    if (relation === undefined) continue;
    throw new InvalidOptionError({
      option,
      expected: `a folder outside ${p.what} (${p.path})`,
      received: dir,
      message: `${option}: ${dir} ${relation} ${p.what} (${p.path}); writing there would replace or change it. Choose a folder outside it.`,
    });
  }
}

/**
 * Checks that `dir` can receive a new folder: absent, an empty folder, or (with `overwrite`) any folder.
 * @throws FileFormatError when `dir` is a file; InvalidOptionError (option `overwrite`) when it holds entries
 */
export function checkTargetFolder(dir: string, overwrite: boolean): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new FileFormatError({ file: dir, expected: 'a folder to write into', problem: 'is a file' });
  const entries = readdirSync(dir);
  if (entries.length > 0 && !overwrite) {
    throw new InvalidOptionError({
      option: 'overwrite',
      expected: `true to replace ${dir}, which already holds ${entries.length} entries (${entries.slice(0, 5).join(', ')}); or choose a new folder`,
      received: false,
      message: `${dir} already exists and is not empty (${entries.slice(0, 5).join(', ')}); pass overwrite (--overwrite) or choose a new folder.`,
    });
  }
}

/** Staging folders being written by `writeFolderAtomic` in this process. */
const inProgress = new Set<string>();
/**
 * Folders that writes of this process created (the missing parents of their targets) and that hold no published
 * output yet: a failed or interrupted write removes them again while they are empty — whichever write created them,
 * so two writes sharing one leave nothing behind — and never a folder that existed before.
 */
const createdFolders = new Set<string>();

/**
 * Removes `from` and its ancestors while each is one of `createdFolders` and empty (`rmdirSync`, not recursive).
 * `forget`: drop the removed ones from `createdFolders` (false while interrupted writes may re-create them).
 */
function removeCreatedEmptyFolders(from: string, forget: boolean): void {
  for (let dir = resolve(from); createdFolders.has(dir); dir = dirname(dir)) {
    try {
      rmdirSync(dir);
    } catch {
      return; // not empty (another write's folder, someone else's files), or not removable: leave it and everything above
    }
    if (forget) createdFolders.delete(dir);
  }
}

/** Removes a staging folder, then the created folders around it that are left empty. Never throws. */
function removeStaging(staging: string, forget: boolean): void {
  try {
    rmSync(staging, { recursive: true, force: true });
  } catch {
    // best effort: a folder that cannot be removed stays (its name says what it is)
  }
  removeCreatedEmptyFolders(dirname(staging), forget);
}

/**
 * Removes, synchronously, every staging folder a `writeFolderAtomic` of this process is still writing, and the folders
 * those writes created when left empty: for a handler about to `process.exit()` mid-write (a second Ctrl-C), which
 * would otherwise leave `.<name>.<tag>.partial` folders behind. Never throws. Each interrupted write, should it go
 * on, fails with `AbortedError` (whether its `write` finishes or trips over the missing folder) and publishes nothing.
 */
export function removeStagingFolders(): void {
  const stagings = [...inProgress];
  inProgress.clear();
  for (const staging of stagings) removeStaging(staging, false); // a write that goes on may re-create them: its failure removes them again
}

/** Options of `writeFolderAtomic`. */
export interface WriteFolderOptions {
  /** Replace a folder that already holds entries (`checkTargetFolder`). Default false. */
  readonly overwrite?: boolean;
  /** Paths the target must stay clear of (`checkOutsideProtected`): the model and files being read. */
  readonly protect?: readonly ProtectedPath[];
}

/**
 * Runs `write(staging)` into a fresh temporary sibling of `dir`, then moves it onto `dir`.
 * @returns what `write` returned
 * @throws as `checkOutsideProtected` and `checkTargetFolder`; FileFormatError when the folders cannot be created or
 *   renamed; whatever `write` throws (after cleaning up)
 */
export async function writeFolderAtomic<T>(
  dir: string,
  options: WriteFolderOptions,
  write: (staging: string) => Promise<T> | T,
): Promise<T> {
  const target = resolve(dir);
  const overwrite = options.overwrite ?? false;
  checkOutsideProtected(target, options.protect ?? []);
  checkTargetFolder(target, overwrite);
  const parent = dirname(target);
  const missing = missingFolders(parent); // what mkdir will create (resolved paths: no \\?\ prefix on Windows)
  try {
    mkdirSync(parent, { recursive: true });
  } catch (cause) {
    throw new FileFormatError({ file: parent, expected: 'a folder that can be created', problem: `cannot be created (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, cause });
  }
  for (const dir of missing) createdFolders.add(dir);
  const tag = `${process.pid}.${randomBytes(6).toString('hex')}`;
  const staging = join(parent, `.${basename(target)}.${tag}.partial`);
  const aside = join(parent, `.${basename(target)}.${tag}.old`);
  let writing = false; // between the staging folder's creation and the end of `write`
  try {
    mkdirSync(staging);
    inProgress.add(staging);
    writing = true;
    const value = await write(staging);
    writing = false;
    // from here on synchronous: no handler runs before the folder is in place
    if (!inProgress.delete(staging)) throw new AbortedError(`${target}: its staging folder was removed (a second Ctrl-C), so the write`);
    checkTargetFolder(target, overwrite); // the target may have appeared while writing
    const replacing = existsSync(target);
    if (replacing) renameSync(target, aside);
    try {
      renameSync(staging, target);
    } catch (error) {
      if (replacing) moveBack(aside, target, error);
      throw error;
    }
    // the created folders hold the output now: never removed
    for (let d = parent; createdFolders.has(d); d = dirname(d)) createdFolders.delete(d);
    try {
      rmSync(aside, { recursive: true, force: true });
    } catch {
      // the new folder is in place; an old one that cannot be deleted stays, hidden, beside it (its name says what it is)
    }
    return value;
  } catch (error) {
    // removed by removeStagingFolders() while `write` ran: whatever `write` then hit (ENOENT, most likely) is an abort
    const interrupted = writing && !inProgress.has(staging);
    inProgress.delete(staging);
    removeStaging(staging, true);
    if (interrupted && !AbortedError.isInstance(error)) throw new AbortedError(`${target}: its staging folder was removed (a second Ctrl-C), so the write`, { cause: error });
    if (EraseError.isInstance(error)) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== undefined) throw new FileFormatError({ file: target, expected: 'a writable location', problem: `cannot be written (${code})`, cause: error });
    throw error;
  }
}

/** The folders `mkdir -p dir` would create: `dir` and its missing ancestors (resolved), empty when `dir` exists. */
function missingFolders(dir: string): string[] {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    missing.push(d);
    if (dirname(d) === d) break;
  }
  return missing;
}

/** Puts the previous folder back after a failed publish; when that fails too, the error says where it is. */
function moveBack(aside: string, target: string, error: unknown): void {
  try {
    renameSync(aside, target);
  } catch {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new FileFormatError({
      file: target,
      expected: 'a writable location',
      problem: `cannot be written (${code}), and the folder it replaced could not be moved back: it is at ${aside}`,
      cause: error,
    });
  }
}
