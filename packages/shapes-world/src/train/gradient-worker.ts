/**
 * Worker-thread entry of data-parallel training (gradient-workers.ts starts it): holds its own tfjs backend and a
 * copy of the world's models, computes ∇L_s of the shards it is sent (shard-gradients.ts), and takes the updated
 * trained weights after every optimizer step. It never updates weights itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '@erase/core';
import { DDPMScheduler, useBackend, type BackendName } from '@erase/sd';
import { PixelUnshuffleCodec } from '../codec/pixel-unshuffle';
import { TRAINING_SCHEDULER_CONFIG } from '../model/configs';
import { initTextEncoder, initUNet } from '../model/init';
import type { ToWorker, WorkerInit, FromWorker } from './gradient-workers';
import { shardGradients, type ShardModels } from './shard-gradients';

const port = parentPort;
if (port === null) throw new Error('gradient-worker.ts runs as a worker thread (started by GradientWorkers)');
const send = (message: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

try {
  const init = workerData as WorkerInit;
  await useBackend(init.backend as BackendName, { threads: 1, warn: () => {} });
  await ensureGradients();
  const textEncoder = initTextEncoder(init.textEncoderConfig, { seed: 0 });
  const unet = initUNet(init.unetConfig, { seed: 0 });
  const params = new Map<string, tf.Variable>();
  for (const [name, v] of textEncoder.parameters()) params.set(`text_encoder/${name}`, v);
  for (const [name, v] of unet.parameters()) params.set(`unet/${name}`, v);
  for (const { name, data } of init.params) {
    const v = params.get(name);
    if (v === undefined || v.size !== data.length) throw new Error(`gradient worker: weight ${name} does not fit this model`);
    tf.tidy(() => v.assign(tf.tensor(data, v.shape, 'float32')));
  }
  const variables = init.trained.map((name) => params.get(name) as tf.Variable);
  const total = variables.reduce((a, v) => a + v.size, 0);
  const models: ShardModels = {
    textEncoder,
    unet,
    codec: new PixelUnshuffleCodec(),
    scheduler: DDPMScheduler.fromConfig(TRAINING_SCHEDULER_CONFIG),
    frozenText: init.frozenText,
  };

  port.on('message', (message: ToWorker) => {
    try {
      if (message.kind === 'params') {
        let offset = 0;
        tf.tidy(() => {
          for (const v of variables) {
            v.assign(tf.tensor(message.values.subarray(offset, offset + v.size), v.shape, 'float32'));
            offset += v.size;
          }
        });
        return;
      }
      const { value, grads } = shardGradients(models, message.batch, variables);
      const flat = new Float32Array(total); // ∇L_s, the trained weights' gradients end to end
      let offset = 0;
      for (const v of variables) {
        flat.set((grads[v.name] as tf.Tensor).dataSync() as Float32Array, offset);
        offset += v.size;
      }
      const loss = value.dataSync()[0] as number;
      tf.dispose([value, ...Object.values(grads)]);
      send({ kind: 'grads', id: message.id, loss, grads: flat }, [flat.buffer]);
    } catch (error) {
      send({ kind: 'error', message: error instanceof Error ? error.message : String(error) });
    }
  });
  send({ kind: 'ready' });
} catch (error) {
  send({ kind: 'error', message: error instanceof Error ? error.message : String(error) });
}
