/**
 * `sg(x)`: the identity in the forward pass, zero gradient in the backward pass (torch's `x.detach()`,
 * or computing `x` under `torch.no_grad()`). tfjs-core has no such op, so it is a `tf.customGrad`.
 */
import * as tf from '@tensorflow/tfjs-core';

let stopGradientOp: ((x: tf.Tensor) => tf.Tensor) | undefined;

/**
 * A copy of `x` through which no gradient flows. `x` is not disposed; the caller owns the result.
 * Works with or without an active gradient tape.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  stopGradientOp ??= tf.customGrad((...inputs) => {
    const input = inputs[0] as tf.Tensor;
    return { value: tf.clone(input), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
  });
  return stopGradientOp(x) as T;
}
