import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AbortedError, InvalidOptionError } from '@erase/core';
import { useTempDirs } from '../../test/temp-dirs';
import { checkOutsideProtected, removeStagingFolders, writeFolderAtomic } from './staging';

const tempDir = useTempDirs('erase-staging-');
/** root/holder/model/{model_index.json, unet/w} and root/holder/single.safetensors */
function layout(): { root: string; holder: string; model: string; single: string } {
  const root = tempDir();
  const holder = join(root, 'holder');
  const model = join(holder, 'model');
  mkdirSync(join(model, 'unet'), { recursive: true });
  writeFileSync(join(model, 'model_index.json'), '{}');
  writeFileSync(join(model, 'unet', 'w'), 'weights');
  const single = join(holder, 'single.safetensors');
  writeFileSync(single, 'x');
  return { root, holder, model, single };
}
const refusal = (dir: string, protect: { path: string; what: string }[], option?: string): InvalidOptionError | undefined => {
  try {
    checkOutsideProtected(dir, protect, option);
    return undefined;
  } catch (error) {
    if (InvalidOptionError.isInstance(error)) return error;
    throw error;
  }
};

describe('checkOutsideProtected', () => {
  it('refuses the protected folder itself, a folder holding it, and one inside it, under any spelling', () => {
    const { root, holder, model } = layout();
    const protect = [{ path: model, what: 'the model (--model)' }];
    expect(refusal(model, protect, '--out')?.message).toMatch(/^--out: .* is the model \(--model\)/);
    expect(refusal(`${model}/`, protect)?.message).toMatch(/ is the model/);
    expect(refusal(join(model, '..', 'model'), protect)?.message).toMatch(/ is the model/);
    expect(refusal(holder, protect)?.message).toMatch(/ contains the model/);
    expect(refusal(root, protect)?.message).toMatch(/ contains the model/);
    expect(refusal(join(model, 'erased'), protect)?.message).toMatch(/ lies inside the model/);
    expect(refusal(join(model, 'not', 'yet', 'there'), protect)?.message).toMatch(/ lies inside the model/);
    expect(refusal(join(model, '..cache'), protect)?.message).toMatch(/ lies inside the model/); // a name, not a parent
    const link = join(root, 'link');
    symlinkSync(model, link);
    expect(refusal(link, protect)?.message).toMatch(/ is the model/);
    expect(refusal(join(link, 'sub'), protect)?.message).toMatch(/ lies inside the model/);
    expect(refusal(link, [{ path: link, what: 'x' }])?.option).toBe('dir');
  });

  it('allows siblings, and folders next to a protected single file', () => {
    const { holder, model, single } = layout();
    expect(refusal(join(holder, 'model-erased'), [{ path: model, what: 'm' }])).toBeUndefined();
    expect(refusal(join(holder, 'mod'), [{ path: model, what: 'm' }])).toBeUndefined(); // a prefix of the name is not a parent
    expect(refusal(join(holder, 'erased'), [{ path: single, what: 'm' }])).toBeUndefined();
    expect(refusal(holder, [{ path: single, what: 'the checkpoint' }])?.message).toMatch(/ contains the checkpoint/);
  });
});

describe('writeFolderAtomic with protected paths', () => {
  it('refuses, with overwrite, to replace the folder it protects, and leaves it as it was', async () => {
    const { holder, model } = layout();
    let called = false;
    await expect(
      writeFolderAtomic(model, { overwrite: true, protect: [{ path: model, what: 'the base model' }] }, () => {
        called = true;
      }),
    ).rejects.toThrow(/is the base model/);
    await expect(writeFolderAtomic(holder, { overwrite: true, protect: [{ path: model, what: 'the base model' }] }, () => undefined)).rejects.toThrow(/contains the base model/);
    expect(called).toBe(false);
    expect(readdirSync(model).sort()).toEqual(['model_index.json', 'unet']);
    expect(readFileSync(join(model, 'unet', 'w'), 'utf8')).toBe('weights');
    expect(readdirSync(holder).sort()).toEqual(['model', 'single.safetensors']); // no staging folder left
  });
});

/** A promise a gated write awaits, and the function that resolves it. */
function opened(): { gate: Promise<void>; go: () => void } {
  let go: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    go = resolve;
  });
  return { gate, go };
}

describe('removeStagingFolders', () => {
  /** A write that writes `a.txt`, waits for `go`, then (re)creates a nested folder and writes into it, as exportModel does. */
  function gatedWrite(go: Promise<void>) {
    return async (staging: string): Promise<void> => {
      writeFileSync(join(staging, 'a.txt'), 'partial');
      await go;
      mkdirSync(join(staging, 'unet'), { recursive: true }); // would re-create a removed staging folder
      writeFileSync(join(staging, 'unet', 'w'), 'partial');
    };
  }

  it('removes the staging folders of writes in progress and the folders they created; the writes then publish nothing', async () => {
    const root = tempDir();
    const existing = join(root, 'existing');
    mkdirSync(existing);
    writeFileSync(join(existing, 'old.txt'), 'kept');
    const { gate, go } = opened();
    const replacing = writeFolderAtomic(existing, { overwrite: true }, gatedWrite(gate));
    const nestedA = writeFolderAtomic(join(root, 'made', 'deeper', 'a'), {}, gatedWrite(gate));
    const nestedB = writeFolderAtomic(join(root, 'made', 'deeper', 'b'), {}, gatedWrite(gate)); // shares 'made/deeper'
    await writeFolderAtomic(join(root, 'done'), {}, (staging) => writeFileSync(join(staging, 'x.txt'), 'x'));
    expect(readdirSync(join(root, 'made', 'deeper'))).toHaveLength(2);
    removeStagingFolders(); // what a second Ctrl-C does before exiting
    expect(readdirSync(root).sort()).toEqual(['done', 'existing']); // no .partial folder, no empty 'made/deeper'
    go();
    await expect(replacing).rejects.toThrow(AbortedError); // the staging folder it re-created is not published
    await expect(nestedA).rejects.toThrow(AbortedError);
    await expect(nestedB).rejects.toThrow(AbortedError);
    // nothing published, and what the resumed writes re-created is cleaned up again
    expect(readdirSync(root).sort()).toEqual(['done', 'existing']);
    expect(readdirSync(existing)).toEqual(['old.txt']);
    expect(readFileSync(join(existing, 'old.txt'), 'utf8')).toBe('kept');
    expect(readdirSync(join(root, 'done'))).toEqual(['x.txt']);
  });

  it('a write that goes on into its removed staging folder fails with AbortedError, not a file error', async () => {
    const root = tempDir();
    const { gate, go } = opened();
    const writing = writeFolderAtomic(join(root, 'out'), {}, async (staging) => {
      await gate;
      writeFileSync(join(staging, 'x.txt'), 'x'); // ENOENT: the folder is gone
    });
    removeStagingFolders();
    go();
    await expect(writing).rejects.toThrow(AbortedError);
    expect(readdirSync(root)).toEqual([]);
  });

  it('keeps a folder it created once something else was put in it', async () => {
    const root = tempDir();
    const { gate, go } = opened();
    const writing = writeFolderAtomic(join(root, 'new', 'out'), {}, gatedWrite(gate));
    writeFileSync(join(root, 'new', 'notes.txt'), "the user's"); // appears while the write runs
    removeStagingFolders();
    expect(readdirSync(join(root, 'new'))).toEqual(['notes.txt']);
    go();
    await expect(writing).rejects.toThrow(AbortedError);
    expect(readdirSync(join(root, 'new'))).toEqual(['notes.txt']);
  });

  it('on a failed write, removes only the folders it created that are left empty', async () => {
    const root = tempDir();
    const { gate, go } = opened();
    const failing = writeFolderAtomic(join(root, 'new', 'out'), {}, async (staging) => {
      await gate;
      writeFileSync(join(staging, 'a.txt'), 'x');
      throw new Error('disk full');
    });
    await writeFolderAtomic(join(root, 'new', 'other'), {}, (staging) => writeFileSync(join(staging, 'b.txt'), 'b'));
    go();
    await expect(failing).rejects.toThrow('disk full');
    expect(readdirSync(join(root, 'new'))).toEqual(['other']); // the finished sibling output survives
    expect(readdirSync(join(root, 'new', 'other'))).toEqual(['b.txt']);
  });

  it('on a failed write, keeps the empty folders that existed before it', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'empty'));
    const failing = writeFolderAtomic(join(root, 'empty', 'made', 'out'), {}, () => {
      throw new Error('disk full');
    });
    await expect(failing).rejects.toThrow('disk full');
    expect(readdirSync(root)).toEqual(['empty']); // 'made' (created by the write) is gone, 'empty' (the user's) stays
    expect(readdirSync(join(root, 'empty'))).toEqual([]);
  });
});
