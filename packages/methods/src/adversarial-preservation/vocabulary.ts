/**
 * Candidate words of Adversarial Preservation's discrete search (methods.md §4; official
 * `gen_embedding_matrix.py::search_closest_tokens` (sim 'l2') then `learn_k_means_from_input_embedding`), built on
 * @erase/sampling's `nearestCandidates` / `reduceCandidates`, streaming the vocabulary through the text encoder in
 * chunks so no [V, T, D] tensor is ever alive (the whole CLIP vocabulary would be ~7 GB of encoder outputs).
 *
 * Notation:
 *   w ∈ W        vocabulary words; E_w [T, D] = encoder output of the prompt "{w}"
 *   E_c [T, D]   encoder output of the erased concept's prompt
 *   d_w          ‖E_w − E_c‖₂ over the flattened [T·D]
 *   K            nearest words kept (`gumbel.k`, clamped to |W| after exclusions)
 *   numCenters   representatives by 1-D k-means on the d_w (clamped to the number of distinct distances, which
 *                k-means needs — our reading; the official code assumes enough distinct words)
 *   E_vocab [C, T, D]  the representatives' encoder outputs (the official `preserved_matrix`)
 * Exclusion (default): words equal, case-insensitively, to the concept or to one of its whitespace-separated words.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidOptionError, reportProgress, throwIfAborted, type LongRunningOptions, type TextEncoder } from '@erase/core';
import { nearestCandidates, reduceCandidates } from '@erase/sampling';

/**
 * The default vocabulary: every token of `encoder.vocabulary()` that is a whole word (`…</w>`) of at least two ASCII
 * letters, without the marker, lower-cased, distinct, in token-id order. ASCII only: CLIP's byte-level BPE spells
 * non-ASCII bytes as Latin-1 look-alikes (`ķ`, `Ã©`), which are not words; the official search reads a 3,000-word
 * English list instead (pass one as `vocabulary`).
 */
export function vocabularyWords(encoder: TextEncoder): string[] {
  const entries = [...encoder.vocabulary()].sort((a, b) => a[1] - b[1]);
  const out = new Set<string>();
  for (const [token] of entries) {
    if (!token.endsWith('</w>')) continue;
    const word = token.slice(0, -4);
    if (/^[a-z]{2,}$/i.test(word)) out.add(word.toLowerCase());
  }
  return [...out];
}

/** The words excluded for a concept: the concept itself and each of its words, lower-cased. */
export function erasedWords(concept: string): Set<string> {
  const text = concept.trim().toLowerCase();
  return new Set([text, ...text.split(/\s+/).filter(Boolean)]);
}

/** One concept's search candidates. */
export interface ConceptCandidates {
  readonly concept: string;
  /** The C representative words, nearest cluster first. */
  readonly words: readonly string[];
  /** d_w of each. */
  readonly distances: readonly number[];
  /** K actually used (after clamping). */
  readonly nearest: number;
  /** Words left out as the erased word(s). */
  readonly excluded: readonly string[];
  /** E_vocab, float32 [C, T, D]; owned by the creator. */
  readonly embeddings: tf.Tensor3D;
}

/** Settings of {@link buildCandidates}. */
export interface CandidateSettings extends LongRunningOptions {
  readonly k: number;
  readonly numCenters: number;
  readonly encodeBatchSize: number;
  readonly includeErasedWord: boolean;
  /** Seed of the k-means seeding. */
  readonly seed: number;
}

/**
 * Ranks `words` by d_w for every concept (one pass over the vocabulary), keeps the K nearest, reduces them to
 * `numCenters` and encodes the representatives. The caller owns the returned embeddings; nothing else is left.
 * Progress stage `adversarial-preservation.vocabulary` (one event per encoder chunk).
 * @throws InvalidOptionError (`vocabulary`) when no word is left for a concept; AbortedError on abort.
 */
export async function buildCandidates(encoder: TextEncoder, concepts: readonly string[], words: readonly string[], settings: CandidateSettings): Promise<ConceptCandidates[]> {
  const vocabulary = [...new Set(words.map((w) => w.trim()))];
  const excluded = concepts.map((concept) => (settings.includeErasedWord ? new Set<string>() : erasedWords(concept)));
  const kept = excluded.map((set) => vocabulary.filter((w) => !set.has(w.toLowerCase())).length);
  kept.forEach((count, c) => {
    if (count === 0) throw new InvalidOptionError({ option: 'vocabulary', expected: `at least one word besides the erased concept ${JSON.stringify(concepts[c])}`, received: vocabulary });
  });
  const k = kept.map((count) => Math.min(settings.k, count)); // K per concept
  const best: { index: number; distance: number }[][] = concepts.map(() => []);
  const conceptEmbeddings = concepts.map((concept) => tf.tidy(() => tf.squeeze(encoder.encodePrompts([concept]), [0]) as tf.Tensor2D)); // E_c [T, D]
  try {
    const chunks = Math.ceil(vocabulary.length / settings.encodeBatchSize);
    for (let chunk = 0; chunk < chunks; chunk++) {
      throwIfAborted(settings.signal, 'ranking the vocabulary');
      const offset = chunk * settings.encodeBatchSize;
      const chunkWords = vocabulary.slice(offset, offset + settings.encodeBatchSize);
      const encoded = encoder.encodePrompts(chunkWords); // E_w [b, T, D]
      try {
        for (const [c, concept] of conceptEmbeddings.entries()) {
          const exclude = chunkWords.flatMap((w, i) => ((excluded[c] as Set<string>).has(w.toLowerCase()) ? [i] : []));
          const available = chunkWords.length - exclude.length;
          if (available === 0) continue;
          const found = await nearestCandidates(concept, encoded, Math.min(k[c] as number, available), { exclude });
          const merged = [...(best[c] as { index: number; distance: number }[]), ...found.indices.map((i, j) => ({ index: offset + i, distance: found.distances[j] as number }))];
          merged.sort((a, b) => a.distance - b.distance || a.index - b.index);
          best[c] = merged.slice(0, k[c]);
        }
      } finally {
        encoded.dispose();
      }
      reportProgress(settings.onProgress, { stage: 'adversarial-preservation.vocabulary', step: chunk + 1, total: chunks, message: `${vocabulary.length} words` });
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
    }
  } finally {
    tf.dispose(conceptEmbeddings);
  }

  const out: ConceptCandidates[] = [];
  try {
    for (const [c, concept] of concepts.entries()) {
      const nearest = best[c] as { index: number; distance: number }[];
      const distances = nearest.map((n) => n.distance);
      const distinct = new Set(distances).size;
      const centers = settings.numCenters >= nearest.length ? settings.numCenters : Math.min(settings.numCenters, distinct);
      const reduced = reduceCandidates({ indices: nearest.map((n) => n.index), distances }, centers, settings.seed);
      const chosen = reduced.indices.map((i) => vocabulary[i] as string);
      out.push({
        concept,
        words: chosen,
        distances: reduced.distances,
        nearest: nearest.length,
        excluded: vocabulary.filter((w) => (excluded[c] as Set<string>).has(w.toLowerCase())),
        embeddings: encoder.encodePrompts(chosen), // E_vocab [C, T, D]
      });
    }
  } catch (error) {
    for (const candidates of out) candidates.embeddings.dispose();
    throw error;
  }
  return out;
}
