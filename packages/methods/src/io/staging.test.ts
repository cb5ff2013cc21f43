import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileFormatError, InvalidOptionError } from '@erase/core';
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

describe('removeStagingFolders', () => {
  it('removes the staging folders of writes in progress (and the parents they created), leaving finished outputs', async () => {
    const root = tempDir();
    const existing = join(root, 'existing');
    mkdirSync(existing);
    writeFileSync(join(existing, 'old.txt'), 'kept');
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const replacing = writeFolderAtomic(existing, { overwrite: true }, async (staging) => {
      writeFileSync(join(staging, 'new.txt'), 'partial');
      await gate;
    });
    const nested = writeFolderAtomic(join(root, 'made', 'deeper', 'out'), {}, async (staging) => {
      writeFileSync(join(staging, 'a.txt'), 'partial');
      await gate;
    });
    await writeFolderAtomic(join(root, 'done'), {}, (staging) => writeFileSync(join(staging, 'x.txt'), 'x'));
    expect(readdirSync(root).filter((name) => name.endsWith('.partial'))).toHaveLength(1); // existing's, beside it
    removeStagingFolders(); // what a second Ctrl-C does before exiting
    expect(readdirSync(root).sort()).toEqual(['done', 'existing']); // no .partial folder, no empty 'made/deeper'
    expect(readFileSync(join(existing, 'old.txt'), 'utf8')).toBe('kept');
    release();
    await expect(replacing).rejects.toThrow(FileFormatError); // its staging folder is gone: the write fails, the target stays
    await expect(nested).rejects.toThrow(FileFormatError);
    expect(readdirSync(existing)).toEqual(['old.txt']);
    expect(readdirSync(join(root, 'done'))).toEqual(['x.txt']);
  });
});
