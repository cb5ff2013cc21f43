/**
 * The description of the machine a benchmark ran on, for the header of its markdown fragment: CPU, cores, memory,
 * load at the start (these machines are shared), OS, Node and tfjs versions.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';

/** What `describeMachine` reports. */
export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly loadAverage: readonly number[];
  readonly os: string;
  readonly node: string;
  readonly tfjs: string;
  readonly date: string;
}

/** The machine as it is now. */
export function describeMachine(): MachineInfo {
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores: os.availableParallelism(),
    memoryGiB: os.totalmem() / 2 ** 30,
    loadAverage: os.loadavg(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.versions.node,
    tfjs: `tfjs-core ${tf.version_core}, tfjs-backend-wasm ${version_wasm}`,
    date: new Date().toISOString(),
  };
}

/** Markdown bullet lines describing `m` (plus any `extra` lines, e.g. the PyTorch build). */
export function machineMarkdown(m: MachineInfo, extra: readonly string[] = []): string[] {
  return [
    `- Machine: ${m.cpu}, ${m.cores} logical cores, ${m.memoryGiB.toFixed(0)} GiB RAM; ${m.os}.`,
    `- Load average at start (1/5/15 min): ${m.loadAverage.map((l) => l.toFixed(2)).join(' / ')} — these machines are shared; ` +
      'numbers taken under load are slower and noisier.',
    `- Node ${m.node}; ${m.tfjs}.`,
    ...(m.loadAverage[0] !== undefined && m.loadAverage[0] >= 0.75 * m.cores
      ? [`- **The machine was busy when the run started** (1-min load ${m.loadAverage[0].toFixed(1)} on ${m.cores} cores): multi-thread numbers (tfjs and PyTorch) are unreliable; rerun on an idle machine.`]
      : []),
    ...extra.map((line) => `- ${line}`),
    `- Run at ${m.date}.`,
  ];
}
