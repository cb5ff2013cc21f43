/**
 * Frees what a failed gradient computation left behind in tfjs 4.22.
 *
 * `engine.gradients()` clones and `keep`s the tensors each kernel saves for the backward pass, and disposes
 * them (then sets `state.activeTape = null`) only after a *successful* backward pass at gradient depth 0.
 * When the forward function throws (the caller's loss failed, or returned a non-scalar), those saved
 * tensors stay kept forever. This runs tfjs's own success-path cleanup, and only when no outer gradient
 * computation is active (depth 0), so a tape still in use is never touched.
 */
import * as tf from '@tensorflow/tfjs-core';

interface TapeState {
  gradientDepth: number;
  activeTape: { saved?: tf.Tensor[] }[] | null;
}

/** Disposes the saved tensors of an abandoned gradient tape (no-op inside an outer `tf.grad`). */
export function releaseAbandonedTape(): void {
  const state = tf.engine().state as unknown as TapeState;
  if (state.gradientDepth !== 0 || state.activeTape == null) return;
  for (const node of state.activeTape) {
    for (const tensor of node.saved ?? []) if (!tensor.isDisposed) tensor.dispose();
  }
  state.activeTape = null;
}
