// The `erase` CLI end to end on the embedded world (wasm, 1 thread): in-process through `main(argv, io)`, plus one
// spawned run of the real entry point. Checks the files each command writes, that a saved erasure changes what
// `generate` draws, `--json` summaries, `--config` merging, `--help`, and that bad input / Ctrl-C exit non-zero
// with the flag or file named on stderr and leave no output folder behind.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '@erase/sd';
import { main } from '../src/cli/main';
import { METHOD_COMMANDS } from '../src/cli/methods-table';
import { createProgress } from '../src/cli/progress';
import { ERASE_VERSION } from '../src/io/version';

let root: string;
const packageDir = fileURLToPath(new URL('..', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function erase(argv: readonly string[], options: { abortOn?: (stderr: string) => boolean } = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const controller = new AbortController();
  const code = await main(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: {
      write: (s: string) => {
        stderr += s;
        if (options.abortOn?.(stderr)) controller.abort();
      },
    },
    signal: controller.signal,
  });
  return { code, stdout, stderr };
}

const world = ['--threads', '1'];
const uceOut = (): string => join(root, 'uce-heart');

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'erase-cli-'));
  const run = await erase(['uce', '--concepts', 'heart', '--out', uceOut(), ...world]);
  expect(run.code, run.stderr).toBe(0);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('erase <method>', () => {
  it('uce --concepts heart --out writes the delta and erase_config.json', () => {
    expect(readdirSync(uceOut()).sort()).toEqual(['erase_config.json', 'unet_delta.safetensors']);
    const config = JSON.parse(readFileSync(join(uceOut(), 'erase_config.json'), 'utf8')) as { method: string; options: { concepts: string[] }; changed_parameters: string[] };
    expect(config.method).toBe('uce');
    expect(config.options.concepts).toEqual(['heart']);
    expect([...readSafetensors(join(uceOut(), 'unet_delta.safetensors')).tensors.keys()].sort()).toEqual([...config.changed_parameters].sort());
  });

  it('--json prints a parseable summary; --config supplies options that flags override', async () => {
    const configFile = join(root, 'uce.json');
    writeFileSync(configFile, JSON.stringify({ concepts: ['star'], lambda: 0.25, eraseScale: 2, version: '2025' }));
    const out = join(root, 'uce-config');
    const run = await erase(['uce', '--config', configFile, '--erase-scale', '3', '--out', out, '--json', ...world]);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { command: string; method: string; files: string[]; changedParameters: number; baseModel: { sha256: string } };
    expect(summary).toMatchObject({ command: 'uce', method: 'uce', files: ['unet_delta.safetensors', 'erase_config.json'], changedParameters: 14 });
    expect(summary.baseModel.sha256).toMatch(/^[0-9a-f]{64}$/);
    const config = JSON.parse(readFileSync(join(out, 'erase_config.json'), 'utf8')) as { options: Record<string, unknown> };
    expect(config.options).toMatchObject({ concepts: ['star'], lambda: 0.25, eraseScale: 3, version: '2025' });
  });

  it('realera (all three stages) with tiny settings saves an unfused LoRA (lora.safetensors) next to the delta', async () => {
    const out = join(root, 'realera');
    const run = await erase(
      ['realera', '--concepts', 'heart', '--iterations', '2', '--anchor-images', '1', '--generation-steps', '2', '--num-neighbours', '2', '--num-beyond', '2', '--lora-format', 'kohya', '--out', out, '--json', ...world],
    );
    expect(run.code, run.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['erase_config.json', 'lora.safetensors', 'unet_delta.safetensors']);
    const config = JSON.parse(readFileSync(join(out, 'erase_config.json'), 'utf8')) as { files: { lora_format: string }; seeds: number[] };
    expect(config.files.lora_format).toBe('kohya');
    expect(config.seeds).toEqual([0]);
    const { options } = JSON.parse(readFileSync(join(out, 'erase_config.json'), 'utf8')) as { options: { stages: unknown; sampler: Record<string, unknown> } };
    expect(options.stages).toEqual({ mining: true, closedForm: true, lora: true });
    expect(options.sampler).toMatchObject({ numNeighbours: 2, numBeyond: 2 });
  });

  it('realera --no-mining --no-closed-form trains only the LoRA (eq. 8 every step)', async () => {
    const out = join(root, 'realera-lora-only');
    const run = await erase(['realera', '--concepts', 'heart', '--no-mining', '--no-closed-form', '--iterations', '2', '--anchor-images', '1', '--generation-steps', '2', '--out', out, ...world]);
    expect(run.code, run.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'erase_config.json'), 'utf8')) as { options: { stages: unknown }; changed_parameters: string[]; files: { lora: string | null } };
    expect(config.options.stages).toEqual({ mining: false, closedForm: false, lora: true });
    expect(config.changed_parameters).toEqual([]); // no closed-form edit: the erasure is the LoRA alone
    expect(config.files.lora).toBe('lora.safetensors');
  });

  it('realera sampler flags (D1, D2, S, M, N, rescale) reach the resolved options', async () => {
    const out = join(root, 'realera-sampler');
    const flags = ['--neighbour-radius', '3', '--beyond-radius', '5', '--cos-low', '0.2', '--cos-high', '0.8', '--num-neighbours', '4', '--num-beyond', '2', '--rescale', 'none', '--anchor-radius', '0.25'];
    const run = await erase(['realera', '--concepts', 'heart', '--no-lora', ...flags, '--out', out, ...world]);
    expect(run.code, run.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'erase_config.json'), 'utf8')) as { options: { sampler: Record<string, unknown> } };
    expect(config.options.sampler).toMatchObject({ neighbourRadius: 3, beyondRadius: 5, cosLow: 0.2, cosHigh: 0.8, numNeighbours: 4, numBeyond: 2, rescale: 'none', anchorRadius: 0.25 });
  });

  it('esd, ap and ca run with tiny settings; their official-vocabulary flags reach the resolved options', async () => {
    type Saved = { method: string; options: Record<string, unknown> };
    const saved = (out: string): Saved => JSON.parse(readFileSync(join(out, 'erase_config.json'), 'utf8')) as Saved;
    const esdOut = join(root, 'esd');
    const esd = await erase(['esd', '--concepts', 'heart', '--train-method', 'noxattn', '--iterations', '1', '--ddim-steps', '2', '--lr', '0.001', '--out', esdOut, ...world]);
    expect(esd.code, esd.stderr).toBe(0);
    expect(saved(esdOut)).toMatchObject({ method: 'esd', options: { variant: 'u', iterations: 1, samplingSteps: 2, learningRate: 0.001 } });
    expect(readdirSync(esdOut).sort()).toEqual(['erase_config.json', 'unet_delta.safetensors']);

    const apConfig = join(root, 'ap.json');
    writeFileSync(apConfig, JSON.stringify({ gumbel: { k: 8, numCenters: 2 } }));
    const apOut = join(root, 'ap');
    const ap = await erase(['ap', '--concepts', 'heart', '--config', apConfig, '--search', 'gumbel', '--train-method', 'xattn', '--iterations', '1', '--ddim-steps', '2', '--preserve-scale', '0.5', '--out', apOut, ...world]);
    expect(ap.code, ap.stderr).toBe(0);
    expect(saved(apOut)).toMatchObject({ method: 'adversarial-preservation', options: { search: 'gumbel', trainable: 'x', iterations: 1, preserveWeight: 0.5, gumbel: { k: 8, numCenters: 2 } } });

    const caOut = join(root, 'ca');
    const ca = await erase(['ca', '--concepts', 'heart', '--guide-concepts', 'a shape', '--parameter-group', 'cross-attn', '--iterations', '1', '--batch-size', '1', '--anchor-images', '1', '--generation-steps', '2', '--out', caOut, ...world]);
    expect(ca.code, ca.stderr).toBe(0);
    expect(saved(caOut)).toMatchObject({ method: 'concept-ablation', options: { anchors: ['a shape'], parameters: 'kv', steps: 1, batchSize: 1, anchorImages: 1, generationSteps: 2 } });
  });

  it('Ctrl-C (abort) during the run exits 130 and leaves no output folder', async () => {
    const out = join(root, 'aborted');
    const run = await erase(['uce', '--concepts', 'heart', '--out', out, ...world], { abortOn: (stderr) => stderr.includes('[closed-form.edit]') });
    expect(run.code).toBe(130);
    expect(run.stderr).toMatch(/aborted/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(root).filter((n) => n.startsWith('.'))).toEqual([]);
  });
});

describe('erase generate / evaluate / export', () => {
  it('generate writes one PNG per (prompt, seed), and a saved erasure changes the images', async () => {
    const base = join(root, 'images-base');
    const erased = join(root, 'images-erased');
    const args = ['generate', '--prompt', 'a photo of the heart', '--seeds', '2', '--steps', '4', ...world];
    expect((await erase([...args, '--out', base])).code).toBe(0);
    const run = await erase([...args, '--erasure', uceOut(), '--out', erased, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const names = ['0-a-photo-of-the-heart-seed0.png', '0-a-photo-of-the-heart-seed1.png'];
    expect(readdirSync(erased).sort()).toEqual([...names, 'generate.json']);
    expect((JSON.parse(run.stdout) as { files: string[] }).files).toEqual([...names, 'generate.json']);
    for (const name of names) {
      const png = readFileSync(join(erased, name));
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
      expect(png.equals(readFileSync(join(base, name))), name).toBe(false);
    }
  });

  it('evaluate --erasure reports Acc_e / Acc_s / Acc_g / H_o for the erased class (--json)', async () => {
    const run = await erase(['evaluate', '--erasure', uceOut(), '--seeds-per-prompt', '1', '--steps', '4', '--json', ...world]);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { method: string; images: number; perClass: { erasedClass: string; meanProbability: Record<string, number> }[] };
    expect(summary.method).toBe('uce');
    expect(summary.images).toBe(13); // 10 class prompts + 3 synonyms, one seed each
    expect(summary.perClass.map((c) => c.erasedClass)).toEqual(['heart']);
    const figures = summary.perClass[0]?.meanProbability as Record<string, number>;
    for (const key of ['accE', 'accS', 'accG', 'ho']) {
      expect(figures[key]).toBeGreaterThanOrEqual(0);
      expect(figures[key]).toBeLessThanOrEqual(100);
    }
    // H_o is the harmonic mean of 100 − Acc_e, Acc_s and 100 − Acc_g (computed here, not by the code under test)
    const ho = 3 / (1 / (100 - (figures.accE as number)) + 1 / (figures.accS as number) + 1 / (100 - (figures.accG as number)));
    expect(figures.ho).toBeCloseTo(ho, 6);
    // the erasure shows: the same evaluation of the unedited model draws heart far more often
    const base = await erase(['evaluate', '--concepts', 'heart', '--seeds-per-prompt', '1', '--steps', '4', '--json', ...world]);
    expect(base.code, base.stderr).toBe(0);
    const baseAccE = (JSON.parse(base.stdout) as typeof summary).perClass[0]?.meanProbability.accE as number;
    expect(figures.accE).toBeLessThan(baseAccE);
  });

  it('export reports progress per component, and Ctrl-C during it exits 130 leaving no folder', async () => {
    const out = join(root, 'export-aborted');
    const run = await erase(['export', '--erasure', uceOut(), '--out', out, ...world], { abortOn: (stderr) => stderr.includes('[export.write]') });
    expect(run.code).toBe(130);
    expect(run.stderr).toMatch(/\[export.write\] 1\//);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(root).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('export writes a diffusers folder that --model loads back', async () => {
    const out = join(root, 'exported');
    const run = await erase(['export', '--erasure', uceOut(), '--out', out, ...world]);
    expect(run.code, run.stderr).toBe(0);
    expect(existsSync(join(out, 'model_index.json'))).toBe(true);
    const again = await erase(['generate', '--model', out, '--prompt', 'a photo of the heart', '--steps', '4', '--seeds', '2', '--out', join(root, 'images-exported'), ...world]);
    expect(again.code, again.stderr).toBe(0);
    for (const name of ['0-a-photo-of-the-heart-seed0.png', '0-a-photo-of-the-heart-seed1.png']) {
      expect(readFileSync(join(root, 'images-exported', name)).equals(readFileSync(join(root, 'images-erased', name))), name).toBe(true);
    }
  });
});

describe('bad input', () => {
  const out = (): string => join(root, 'never');
  it.each([
    ['an unknown flag', ['uce', '--concepts', 'heart', '--bogus', '1'], /--bogus/],
    ['missing --concepts', ['uce'], /--concepts/],
    ['a bad number', ['uce', '--concepts', 'heart', '--erase-scale', 'abc'], /--erase-scale.*"abc"/],
    ['a value out of range (named by its flag)', ['uce', '--concepts', 'heart', '--lamb=-1'], /--lamb: .*`lambda`.*>= 0, received -1/],
    ['a flag missing its value', ['uce', '--concepts', 'heart', '--lamb'], /--lamb/],
    ['a bad choice', ['esd', '--concepts', 'heart', '--train-method', 'full'], /--train-method.*xattn/],
    ['a sampler value out of range (named by its flag)', ['realera', '--concepts', 'heart', '--cos-low', '0.9'], /--cos-low: .*`sampler.cosLow`.*below cosHigh/],
    ['the flag given is named, not its default partner (D1 at the default D2)', ['realera', '--concepts', 'heart', '--neighbour-radius', '8'], /--neighbour-radius: .*`sampler.neighbourRadius`.*below beyondRadius \(8/],
    ['the flag given is named, not its default partner (S1 at the default S2)', ['realera', '--concepts', 'heart', '--cos-high', '0.2'], /--cos-high: .*`sampler.cosHigh`.*above cosLow \(0.3\)/],
    ['a bad sampler choice', ['realera', '--concepts', 'heart', '--rescale', 'unit'], /--rescale.*original-norm/],
    ['a missing model path', ['uce', '--concepts', 'heart', '--model', '/nonexistent/model'], /\/nonexistent\/model/],
    ['a --model file that is neither a folder nor .safetensors (unsupported input: exit 2)', ['uce', '--concepts', 'heart', '--model', fileURLToPath(import.meta.url)], /is not a diffusers folder or a \.safetensors file/],
    ['a missing erasure folder', ['generate', '--prompt', 'x', '--erasure', '/nonexistent/erasure'], /--erasure.*\/nonexistent\/erasure/],
    ['a positional argument', ['generate', 'a photo', '--prompt', 'x'], /Unexpected argument/],
    ['evaluate with a concept that names no class', ['evaluate', '--concepts', 'dog'], /--concepts.*"dog"|--concepts.*dog/],
    ['evaluate with neither --concepts nor --erasure', ['evaluate'], /--concepts.*--erasure/],
    ['a value flag given twice (the last would win silently)', ['uce', '--concepts', 'heart', '--concepts', 'star'], /--concepts was given 2 times; give it once \(several values: comma-separated\)/],
    ['--out given twice', ['uce', '--concepts', 'heart', '--out', '/tmp/elsewhere-never'], /--out was given 2 times/],
  ])('%s: exits non-zero, names it on stderr, writes nothing', async (_, argv, pattern) => {
    const run = await erase([...argv, '--out', out()]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(pattern);
    expect(run.stdout).toBe('');
    expect(existsSync(out())).toBe(false);
  });

  it('a config file that is not JSON is named', async () => {
    const bad = join(root, 'bad.json');
    writeFileSync(bad, '{ "concepts": [');
    const run = await erase(['uce', '--config', bad, '--out', out()]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(bad);
    expect(existsSync(out())).toBe(false);
  });

  it('a --config with inPlace: false (the model would stay unedited: nothing to save) is refused', async () => {
    const config = join(root, 'not-in-place.json');
    writeFileSync(config, JSON.stringify({ concepts: ['heart'], inPlace: false }));
    const run = await erase(['uce', '--config', config, '--out', out(), ...world]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--config: inPlace false .*nothing to save/);
    expect(existsSync(out())).toBe(false);
  });

  it('--lora-format on a method that saves no LoRA warns that it had no effect', async () => {
    const out = join(root, 'uce-kohya');
    const run = await erase(['uce', '--concepts', 'heart', '--lora-format', 'kohya', '--out', out, ...world]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/warning: --lora-format kohya had no effect: erase uce saved no lora.safetensors \(it trained no LoRA/);
    expect(readdirSync(out).sort()).toEqual(['erase_config.json', 'unet_delta.safetensors']);
  });

  it('missing --out, and a non-empty --out without --overwrite', async () => {
    const noOut = await erase(['uce', '--concepts', 'heart']);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toMatch(/Missing --out/);
    const run = await erase(['uce', '--concepts', 'heart', '--out', uceOut()]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--overwrite/);
  });

  it('an --out that is, holds or lies inside the model or the erasure read is refused before loading, even with --overwrite', async () => {
    const holder = join(root, 'holder');
    const model = join(holder, 'model'); // any folder: the check comes before anything is loaded
    mkdirSync(join(model, 'unet'), { recursive: true });
    writeFileSync(join(model, 'model_index.json'), '{}');
    const erasureBefore = readdirSync(uceOut()).sort();
    const cases: [string[], RegExp][] = [
      [['export', '--model', model, '--out', model, '--overwrite'], /--out: .* is the model \(--model\)/],
      [['uce', '--concepts', 'heart', '--model', model, '--out', holder, '--overwrite'], /--out: .* contains the model \(--model\)/],
      [['generate', '--prompt', 'x', '--model', model, '--out', join(model, 'images')], /--out: .* lies inside the model \(--model\)/],
      [['generate', '--prompt', 'x', '--erasure', uceOut(), '--out', uceOut(), '--overwrite'], /--out: .* is the saved erasure \(--erasure\)/],
      [['evaluate', '--concepts', 'heart', '--erasure', uceOut(), '--out', join(uceOut(), 'eval')], /--out: .* lies inside the saved erasure/],
    ];
    for (const [argv, pattern] of cases) {
      const run = await erase([...argv, ...world]);
      expect(run.code, argv.join(' ')).toBe(2);
      expect(run.stderr, argv.join(' ')).toMatch(pattern);
    }
    expect(readdirSync(holder)).toEqual(['model']);
    expect(readdirSync(model).sort()).toEqual(['model_index.json', 'unet']);
    expect(readdirSync(uceOut()).sort()).toEqual(erasureBefore);
  });

  it('an unknown command, and no command', async () => {
    const unknown = await erase(['erode']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/erode/);
    const none = await erase([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/Usage: erase <command>/);
  });
});

describe('--help', () => {
  it.each([...METHOD_COMMANDS.map((m) => m.command), 'generate', 'evaluate', 'export'])('erase %s --help lists its flags', async (command) => {
    const run = await erase([command, '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Usage: erase ${command}`);
    expect(run.stdout).toContain(command === 'generate' ? '--prompt' : command === 'export' ? '--erasure' : '--concepts');
  });
  it('erase --help lists every command', async () => {
    const run = await erase(['--help']);
    for (const command of ['realera', 'uce', 'esd', 'ap', 'generate', 'evaluate', 'export']) expect(run.stdout).toContain(`  ${command}`);
  });
});

describe('progress', () => {
  const events = (stage: string, total: number) => Array.from({ length: total }, (_, i) => ({ stage, step: i + 1, total, metrics: { loss: 0.5 } }));
  it('plain lines when not a TTY: a stage start, each further tenth, the end', () => {
    let text = '';
    const display = createProgress({ write: (s: string) => (text += s) });
    for (const e of [...events('train', 100), ...events('save', 2)]) display.listener(e);
    display.finish();
    const lines = text.trimEnd().split('\n');
    const train = lines.filter((l) => l.startsWith('[train]'));
    expect(train.map((l) => l.split(' ')[1])).toEqual(['1/100', '10/100', '20/100', '30/100', '40/100', '50/100', '60/100', '70/100', '80/100', '90/100', '100/100']);
    expect(lines.filter((l) => l.startsWith('[save]'))).toHaveLength(2);
    expect(lines[lines.length - 1]).toBe('[save] 2/2 loss=0.5000');
    expect(text).not.toContain('\r');
  });
  it('one line redrawn in place on a TTY', () => {
    let text = '';
    const display = createProgress({ write: (s: string) => (text += s), isTTY: true });
    for (const e of events('train', 4)) display.listener(e);
    display.finish();
    expect(text.split('\r')).toHaveLength(5);
    expect(text).toContain('train [########################] 4/4 loss=0.5000');
    expect(text.match(/\n/g)).toHaveLength(1);
  });
});

describe('the bin', () => {
  // turbo builds the package before its tests (packages/methods/turbo.json); a bare `vitest` run may not have: then
  // the test is reported as skipped, except under CI, where a missing bin fails it
  const bin = join(packageDir, 'dist', 'cli', 'main.js');
  it.skipIf(!existsSync(bin) && !process.env.CI)('the built bin (dist/cli/main.js, what npm links as `erase`) prints its version, and bad input exits 2', () => {
    expect(existsSync(bin), `${bin} is missing: the test task must build @erase/methods first`).toBe(true);
    const version = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout.trim()).toContain(ERASE_VERSION);
    const bad = spawnSync(process.execPath, [bin, 'uce', '--concepts'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--concepts/);
  });

  it('node src/cli/main.ts (the entry point) runs uce and exits 0; bad input exits 2', () => {
    const env = { ...process.env, TSX_TSCONFIG_PATH: join(packageDir, 'test', 'cli-fixtures', 'tsconfig.json') };
    const out = join(root, 'spawned');
    const ok = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'uce', '--concepts', 'heart', '--out', out, '--json', ...world], { cwd: packageDir, env, encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect((JSON.parse(ok.stdout) as { files: string[] }).files).toEqual(['unet_delta.safetensors', 'erase_config.json']);
    expect(readFileSync(join(out, 'unet_delta.safetensors')).equals(readFileSync(join(uceOut(), 'unet_delta.safetensors')))).toBe(true);
    const bad = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'uce', '--concepts'], { cwd: packageDir, env, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--concepts/);
  });
});
