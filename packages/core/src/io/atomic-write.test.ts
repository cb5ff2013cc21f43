import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileFormatError, InvalidOptionError } from '../errors/errors';
import { writeAll, writeFileAtomic, writeJsonFileAtomic } from './atomic-write';

describe('writeFileAtomic', () => {
  it('writes text, bytes and callback content, replacing an existing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'erase-atomic-'));
    const path = join(dir, 'a.txt');
    writeFileAtomic(path, 'héllo');
    expect(readFileSync(path, 'utf8')).toBe('héllo');
    writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
    writeFileAtomic(path, (fd) => writeAll(fd, Buffer.from('xy')));
    expect(readFileSync(path, 'utf8')).toBe('xy');
    writeJsonFileAtomic(join(dir, 'b.json'), { a: 1 });
    expect(JSON.parse(readFileSync(join(dir, 'b.json'), 'utf8'))).toEqual({ a: 1 });
    expect(readdirSync(dir).sort()).toEqual(['a.txt', 'b.json']); // no temporary files left
  });

  it('creates the folder only when asked, and names the file when it cannot write', () => {
    const dir = mkdtempSync(join(tmpdir(), 'erase-atomic-'));
    const nested = join(dir, 'x', 'y', 'c.txt');
    expect(() => writeFileAtomic(nested, 'c')).toThrow(FileFormatError);
    expect(() => writeFileAtomic(nested, 'c')).toThrow(/c\.txt/);
    writeFileAtomic(nested, 'c', { createFolder: true });
    expect(readFileSync(nested, 'utf8')).toBe('c');
  });

  it('leaves the old file and no temporary file when the writer throws', () => {
    const dir = mkdtempSync(join(tmpdir(), 'erase-atomic-'));
    const path = join(dir, 'keep.txt');
    writeFileSync(path, 'old');
    expect(() =>
      writeFileAtomic(path, (fd) => {
        writeAll(fd, Buffer.from('partial'));
        throw new Error('disk on fire');
      }),
    ).toThrow('disk on fire');
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['keep.txt']);
    expect(existsSync(join(dir, 'keep.txt'))).toBe(true);
  });

  it('refuses an async writer (it would finish after the rename), leaving the old file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'erase-atomic-'));
    const path = join(dir, 'keep.txt');
    writeFileSync(path, 'old');
    const asyncWriter = async (fd: number): Promise<void> => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      writeAll(fd, Buffer.from('late'));
    };
    expect(() => writeFileAtomic(path, asyncWriter as unknown as (fd: number) => void)).toThrow(InvalidOptionError);
    await new Promise((resolve) => setTimeout(resolve, 20)); // the writer settles; then its descriptor and temp file go
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['keep.txt']);
  });
});
