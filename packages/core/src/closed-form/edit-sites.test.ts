// Tests of the site-level driver with tiny fake cross-attention sites on the cpu backend.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, InvalidOptionError, NotPositiveDefiniteError, ShapeMismatchError } from '../errors/errors';
import type { CrossAttentionSite, ProjectionName } from '../interfaces/unet';
import type { ProgressEvent } from '../progress/progress';
import { Rng } from '../random/rng';
import { hostMatrix, type HostMatrix } from './host-matrix';
import { closedFormEdit } from './key-system';
import { editCrossAttentionSites } from './edit-sites';
import { uceTensorTargets } from './uce-targets';

/** A site holding its two projections as tensors; counts reads. */
class FakeSite implements CrossAttentionSite {
  readonly heads = 1;
  readonly reads: Record<ProjectionName, number> = { to_k: 0, to_v: 0 };
  private readonly weights = new Map<ProjectionName, tf.Tensor2D>();
  constructor(
    readonly path: string,
    readonly innerDim: number,
    readonly contextDim: number,
    rng: Rng,
  ) {
    for (const name of ['to_k', 'to_v'] as const) {
      this.weights.set(name, tf.tensor2d(Float32Array.from(rng.normalArray(innerDim * contextDim)), [innerDim, contextDim]));
    }
  }
  readProjection(name: ProjectionName): tf.Tensor2D {
    this.reads[name] += 1;
    return tf.clone(this.weights.get(name) as tf.Tensor2D);
  }
  writeProjection(name: ProjectionName, weight: tf.Tensor2D): void {
    this.weights.get(name)?.dispose();
    this.weights.set(name, tf.clone(weight));
  }
  host(name: ProjectionName): HostMatrix {
    return hostMatrix(this.innerDim, this.contextDim, this.weights.get(name)!.dataSync() as Float32Array);
  }
  dispose(): void {
    for (const t of this.weights.values()) t.dispose();
  }
}

const D = 6;
const random = (rng: Rng, rows: number, cols: number): HostMatrix => hostMatrix(rows, cols, Float32Array.from(rng.normalArray(rows * cols)));
const project = (w: HostMatrix, keys: HostMatrix): HostMatrix => {
  const out = new Float64Array(keys.rows * w.rows);
  for (let i = 0; i < keys.rows; i++)
    for (let o = 0; o < w.rows; o++) {
      let s = 0;
      for (let d = 0; d < w.cols; d++) s += (w.data[o * w.cols + d] as number) * (keys.data[i * keys.cols + d] as number);
      out[i * w.rows + o] = s;
    }
  return { rows: keys.rows, cols: w.rows, data: out };
};
function maxRelativeDiff(actual: HostMatrix, expected: HostMatrix): number {
  let worst = 0;
  for (let i = 0; i < actual.data.length; i++) {
    const e = expected.data[i] as number;
    worst = Math.max(worst, Math.abs((actual.data[i] as number) - e) / (1 + Math.abs(e)));
  }
  return worst;
}
function makeSites(rng: Rng): FakeSite[] {
  return [new FakeSite('down.attn2', 3, D, rng), new FakeSite('mid.attn2', 5, D, rng), new FakeSite('up.attn2', 4, D, rng)];
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('editCrossAttentionSites', () => {
  it.each([
    ['low-rank', 2],
    ['anchor-factor', 7],
  ] as const)('anchor targets (%s path) match closedFormEdit per projection', async (method, n) => {
    const rng = new Rng(11 + n);
    const sites = makeSites(rng);
    const before = sites.map((s) => ({ k: s.host('to_k'), v: s.host('to_v') }));
    const eraseKeys = random(rng, n, D);
    const anchorKeys = random(rng, n, D);
    const preserveKeys = random(rng, 3, D);
    const options = { lambda: 0.2, eraseScale: 2, preserveScale: 0.5 };
    const report = await editCrossAttentionSites(sites, { eraseKeys, targets: { kind: 'anchor', anchorKeys }, preserveKeys }, options);

    expect(report.projections).toHaveLength(6);
    expect(report).toMatchObject({ dim: D, eraseCount: n, preserveCount: 3, options });
    for (const [i, site] of sites.entries()) {
      for (const name of ['to_k', 'to_v'] as const) {
        const original = before[i]![name === 'to_k' ? 'k' : 'v'];
        const expected = closedFormEdit({ weight: original, eraseKeys, preserveKeys, targets: project(original, anchorKeys) }, options);
        expect(maxRelativeDiff(site.host(name), expected)).toBeLessThan(1e-6); // float32 write-back
        expect(site.reads[name]).toBe(1);
        const stats = report.projections.find((p) => p.key === `${site.path}.${name}`)!;
        expect(stats.method).toBe(method);
        expect(stats.residualAfter).toBeLessThan(stats.residualBefore);
        expect(stats.relativeChange).toBeGreaterThan(0);
      }
    }
    sites.forEach((s) => s.dispose());
  });

  it('uce-tensor and explicit targets (given as tensors) match the host functions; no leaks, inputs kept', async () => {
    const rng = new Rng(5);
    const sites = makeSites(rng);
    const original = sites.map((s) => s.host('to_v'));
    const originalK = sites.map((s) => s.host('to_k'));
    const eraseKeys = random(rng, 3, D);
    const anchorKeys = random(rng, 3, D);
    const eraseTensor = tf.tensor2d(eraseKeys.data as Float32Array, [3, D]);
    const anchorTensor = tf.tensor2d(anchorKeys.data as Float32Array, [3, D]);
    const explicit = new Map(sites.map((s) => [`${s.path}.to_k`, tf.tensor2d(Float32Array.from(rng.normalArray(3 * s.innerDim)), [3, s.innerDim])] as const));
    const startTensors = tf.memory().numTensors;

    await editCrossAttentionSites(
      sites,
      { eraseKeys: eraseTensor, targets: { kind: 'uce-tensor', anchorKeys: anchorTensor, sliceLengths: [2, 1] }, projections: ['to_v'] },
    );
    await editCrossAttentionSites(sites, { eraseKeys: eraseTensor, targets: { kind: 'explicit', values: explicit }, projections: ['to_k'] });
    expect(tf.memory().numTensors).toBe(startTensors);
    expect(eraseTensor.isDisposed || anchorTensor.isDisposed).toBe(false);

    for (const [i, site] of sites.entries()) {
      const targets = uceTensorTargets(original[i]!, eraseKeys, anchorKeys, [2, 1]);
      expect(maxRelativeDiff(site.host('to_v'), closedFormEdit({ weight: original[i]!, eraseKeys, targets }))).toBeLessThan(1e-6);
      const explicitTargets = hostMatrix(3, site.innerDim, explicit.get(`${site.path}.to_k`)!.dataSync() as Float32Array);
      const expectedK = closedFormEdit({ weight: originalK[i]!, eraseKeys, targets: explicitTargets });
      expect(maxRelativeDiff(site.host('to_k'), expectedK)).toBeLessThan(1e-6);
      expect(site.reads).toEqual({ to_k: 1, to_v: 1 });
    }
    tf.dispose([eraseTensor, anchorTensor, ...explicit.values()]);
    sites.forEach((s) => s.dispose());
  });

  it('reports progress once per projection', async () => {
    const rng = new Rng(3);
    const sites = makeSites(rng);
    const events: ProgressEvent[] = [];
    await editCrossAttentionSites(sites, { eraseKeys: random(rng, 1, D), targets: { kind: 'anchor', anchorKeys: random(rng, 1, D) } }, { onProgress: (e) => events.push(e) });
    expect(events.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events.every((e) => e.total === 6 && e.stage === 'closed-form.edit')).toBe(true);
    sites.forEach((s) => s.dispose());
  });

  it('leaves every site unchanged on a typed error or an abort', async () => {
    const rng = new Rng(9);
    const sites = makeSites(rng);
    const snapshot = sites.map((s) => Array.from(s.host('to_k').data));
    const eraseKeys = random(rng, 2, D);
    const anchor = { kind: 'anchor', anchorKeys: random(rng, 2, D) } as const;
    const startTensors = tf.memory().numTensors;

    await expect(editCrossAttentionSites(sites, { eraseKeys, targets: anchor }, { lambda: 0 })).rejects.toThrow(NotPositiveDefiniteError);
    await expect(editCrossAttentionSites(sites, { eraseKeys, targets: anchor }, { lambda: -1 })).rejects.toThrow(InvalidOptionError);
    await expect(editCrossAttentionSites(sites, { eraseKeys: random(rng, 2, D + 1), targets: { kind: 'explicit', values: new Map() } })).rejects.toThrow(ShapeMismatchError);
    await expect(editCrossAttentionSites(sites, { eraseKeys, targets: { kind: 'anchor', anchorKeys: random(rng, 3, D) } })).rejects.toThrow(ShapeMismatchError);
    await expect(editCrossAttentionSites(sites, { eraseKeys, targets: anchor, projections: ['to_q' as ProjectionName] })).rejects.toThrow(/projections/);
    await expect(editCrossAttentionSites(sites, { eraseKeys, targets: { kind: 'explicit', values: new Map() } })).rejects.toThrow(/mid\.attn2\.to_v/);
    const controller = new AbortController();
    const aborting = editCrossAttentionSites(sites, { eraseKeys, targets: anchor }, { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(aborting).rejects.toThrow(AbortedError);

    // a write that fails half way (the third projection of six): the ones written get their originals back
    const snapshotV = sites.map((s) => Array.from(s.host('to_v').data));
    let writes = 0;
    const failing = sites.map((site) => {
      const wrapped = Object.create(site) as FakeSite;
      wrapped.writeProjection = (name: ProjectionName, weight: tf.Tensor2D): void => {
        writes += 1;
        if (writes === 3) throw new Error('device lost');
        site.writeProjection(name, weight);
      };
      return wrapped;
    });
    await expect(editCrossAttentionSites(failing, { eraseKeys, targets: anchor })).rejects.toThrow('device lost');
    expect(writes).toBeGreaterThan(3); // the restores
    sites.forEach((s, i) => expect(Array.from(s.host('to_v').data)).toEqual(snapshotV[i]));

    expect(tf.memory().numTensors).toBe(startTensors);
    sites.forEach((s, i) => expect(Array.from(s.host('to_k').data)).toEqual(snapshot[i]));
    sites.forEach((s) => s.dispose());
  });

  it('rejects a site whose weight does not have the advertised shape', async () => {
    const rng = new Rng(2);
    const site = new FakeSite('odd.attn2', 3, D, rng);
    Object.defineProperty(site, 'innerDim', { value: 4 });
    const startTensors = tf.memory().numTensors;
    await expect(
      editCrossAttentionSites([site], { eraseKeys: random(rng, 1, D), targets: { kind: 'anchor', anchorKeys: random(rng, 1, D) } }),
    ).rejects.toThrow(/odd\.attn2\.to_k weight/);
    expect(tf.memory().numTensors).toBe(startTensors);
    site.dispose();
  });
});
