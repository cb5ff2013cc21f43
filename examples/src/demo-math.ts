/**
 * A model-free demo of erase's math packages (core + sampling + eval), runnable on any machine in seconds.
 *
 * It builds a synthetic "concept space" the way a causal text encoder lays one out: each class has a word
 * vector w_k, and a prompt's erased slice is [word token, two end tokens] whose end tokens carry the concept
 * (methods.md: "the end tokens carry the concept"). Each class has three synonyms whose vectors lie close to
 * the class vector (cos ≈ 0.85). A handful of cross-attention "sites" (random W_k, W_v, as in a UNet) map
 * token vectors to values; an "image" of a prompt is the mean value over sites and tokens, plus per-seed
 * noise; a zero-shot classifier compares it with the original model's class images (logit scale 100).
 *
 * Then it erases class 0 twice, with the closed form of @erase/core on every site:
 *   1. word-level (UCE-style): the class prompt's slice → the anchor's slice, other classes preserved;
 *   2. with RealEra's neighbour mining (@erase/sampling): neighbours of the slice → anchor partners, and
 *      beyond-concept samples preserved.
 * and reports Acc_e / Acc_s / Acc_g / H_o (@erase/eval) before and after. Synonyms are never shown to the
 * editor: Acc_g measures how much of the concept survives in associated words. This space is a toy: it shows
 * the packages working together, not which method is better — the erasure benchmark on the embedded world
 * does that.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, editCrossAttentionSites, type CrossAttentionSite, type ProjectionName } from '@erase/core';
import { mineRealEraConcepts } from '@erase/sampling';
import { harmonicMeanHo, scoreErasedClass, zeroShotProbabilities, type ClassifiedImage } from '@erase/eval';
import { useBackend } from '@erase/sd';

const D = 32; // text width
const OUT = 24; // value width
const SITES = 4;
const CLASSES = ['circle', 'square', 'triangle', 'star', 'heart', 'moon'];
const SEEDS = 50;

/** A cross-attention site holding W_k, W_v [OUT, D] as tfjs variables. */
class DemoSite implements CrossAttentionSite {
  readonly heads = 1;
  readonly innerDim = OUT;
  readonly contextDim = D;
  private readonly weights: Record<ProjectionName, tf.Variable>;
  constructor(
    readonly path: string,
    rng: Rng,
  ) {
    const init = (): tf.Variable => tf.variable(rng.normalTensor([OUT, D], 1 / Math.sqrt(D)), false);
    this.weights = { to_k: init(), to_v: init() };
  }
  readProjection(name: ProjectionName): tf.Tensor2D {
    return tf.clone(this.weights[name]) as tf.Tensor2D;
  }
  writeProjection(name: ProjectionName, weight: tf.Tensor2D): void {
    this.weights[name].assign(weight);
  }
  value(tokens: tf.Tensor2D): tf.Tensor2D {
    return tf.matMul(tokens, this.weights.to_v, false, true); // [n, D] x [OUT, D]ᵀ -> [n, OUT]
  }
  dispose(): void {
    this.weights.to_k.dispose();
    this.weights.to_v.dispose();
  }
}

function unit(v: Float64Array): Float64Array {
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

/** A prompt's slice [3, D]: the word token and two end tokens that mix the word with a shared context. */
function promptSlice(word: Float64Array, context: Float64Array): tf.Tensor2D {
  const end1 = word.map((x, i) => 0.8 * x + 0.4 * (context[i] as number));
  const end2 = word.map((x, i) => 0.7 * x + 0.5 * (context[i] as number));
  return tf.tensor2d([Array.from(word), Array.from(end1), Array.from(end2)]); // [3, D]
}

async function main(): Promise<void> {
  await useBackend('cpu'); // also keeps tfjs's "install our node backend" banner out of the output
  const rng = new Rng(2024);
  const scale = Math.sqrt(D);
  const context = unit(rng.normalArray(D)).map((x) => x * scale);
  const words = CLASSES.map(() => unit(rng.normalArray(D)).map((x) => x * scale));
  const synonyms = words.map((w) =>
    [0, 1, 2].map(() => {
      const noise = unit(rng.normalArray(D));
      return unit(w.map((x, i) => x / scale + 0.62 * (noise[i] as number))).map((x) => x * scale);
    }),
  );
  const anchorWord = unit(rng.normalArray(D)).map((x) => x * scale * 0.3); // a nearly empty prompt
  const sites = Array.from({ length: SITES }, (_, i) => new DemoSite(`blocks.${i}.attn2`, rng.fork()));

  const image = (slice: tf.Tensor2D): tf.Tensor1D =>
    tf.tidy(() => tf.mean(tf.stack(sites.map((s) => tf.mean(s.value(slice), 0))), 0) as tf.Tensor1D); // [OUT]

  // Reference "class images" of the original model, for the zero-shot classifier.
  const classSlices = words.map((w) => promptSlice(w, context));
  const references = tf.stack(classSlices.map(image)) as tf.Tensor2D; // [K, OUT]

  const evaluate = (erased: number): ReturnType<typeof scoreErasedClass> => {
    const noiseRng = new Rng(7);
    const images: ClassifiedImage[] = [];
    const add = (slice: tf.Tensor2D, intended: number, role: ClassifiedImage['role']): void => {
      const base = image(slice); // [OUT]
      const batch = tf.tidy(() => tf.add(tf.expandDims(base, 0), noiseRng.normalTensor([SEEDS, OUT], 0.35))) as tf.Tensor2D; // [S, OUT]
      const probs = zeroShotProbabilities(batch, references); // [S, K]
      for (const row of probs.arraySync()) images.push({ probabilities: row, intendedClass: CLASSES[intended] as string, role });
      tf.dispose([base, batch, probs]);
    };
    classSlices.forEach((slice, k) => add(slice, k, k === erased ? 'erased' : 'other'));
    for (const syn of synonyms[erased] as Float64Array[]) {
      const slice = promptSlice(syn, context);
      add(slice, erased, 'synonym');
      slice.dispose();
    }
    return scoreErasedClass(images, { classNames: CLASSES, erasedClass: CLASSES[erased] as string });
  };

  const rows: string[] = [];
  const report = (name: string, s: ReturnType<typeof scoreErasedClass>): void => {
    rows.push(`| ${name} | ${s.accE.toFixed(2)} | ${s.accS.toFixed(2)} | ${s.accG.toFixed(2)} | ${harmonicMeanHo(s.accE, s.accS, s.accG).toFixed(2)} |`);
  };

  const erased = 0;
  report('original', evaluate(erased));
  const saved = sites.map((s) => ({ k: s.readProjection('to_k'), v: s.readProjection('to_v') }));

  const eraseSlice = classSlices[erased] as tf.Tensor2D; // [3, D]
  const anchorSlice = promptSlice(anchorWord, context); // [3, D]
  const preserve = tf.concat(classSlices.filter((_, k) => k !== erased), 0) as tf.Tensor2D; // [5·3, D]

  // 1. Word-level erasure: the class slice alone.
  await editCrossAttentionSites(sites, { eraseKeys: eraseSlice, targets: { kind: 'anchor', anchorKeys: anchorSlice }, preserveKeys: preserve }, { lambda: 0.5 });
  report('closed form, word level (UCE-style)', evaluate(erased));

  // 2. RealEra neighbour mining: neighbours → anchor partners; beyond samples preserved.
  sites.forEach((s, i) => {
    s.writeProjection('to_k', saved[i]!.k);
    s.writeProjection('to_v', saved[i]!.v);
  });
  const mined = await mineRealEraConcepts(eraseSlice, anchorSlice, {
    numNeighbours: 40,
    numBeyond: 20,
    neighbourRadius: 1.2,
    beyondRadius: 3,
    cosLow: 0.55,
    cosHigh: 0.95,
    rescale: 'original-norm',
    seed: 1,
  });
  const eraseKeys = tf.concat([eraseSlice, tf.reshape(mined.neighbours, [-1, D])], 0) as tf.Tensor2D; // [3 + 40·3, D]
  const anchorKeys = tf.concat([anchorSlice, tf.reshape(mined.anchorPartners, [-1, D])], 0) as tf.Tensor2D; // [3 + 40·3, D]
  const preserveKeys = tf.concat([preserve, tf.reshape(mined.beyond, [-1, D])], 0) as tf.Tensor2D; // [15 + 20·3, D]
  const preserveWeights = [...new Array<number>(preserve.shape[0]).fill(1), ...new Array<number>(mined.beyond.shape[0] * 3).fill(0.1)];
  await editCrossAttentionSites(sites, { eraseKeys, targets: { kind: 'anchor', anchorKeys }, preserveKeys, preserveWeights }, { lambda: 0.5 });
  report('closed form + RealEra neighbour mining', evaluate(erased));

  console.log(`Erasing "${CLASSES[erased]}" from a synthetic concept space (${SITES} sites, D = ${D}, ${SEEDS} seeds per prompt).`);
  console.log(
    `Neighbour acceptance rate ${(mined.stats.neighbours.acceptanceRate * 100).toFixed(1)}%, ` +
      `beyond acceptance rate ${(mined.stats.beyond.acceptanceRate * 100).toFixed(1)}%.\n`,
  );
  console.log('| model | Acc_e ↓ | Acc_s ↑ | Acc_g ↓ | H_o ↑ |');
  console.log('|---|---|---|---|---|');
  for (const row of rows) console.log(row);

  tf.dispose([references, anchorSlice, preserve, eraseKeys, anchorKeys, preserveKeys, mined.neighbours, mined.anchorPartners, mined.beyond, ...classSlices]);
  for (const s of saved) tf.dispose([s.k, s.v]);
  for (const s of sites) s.dispose();
}

await main();
