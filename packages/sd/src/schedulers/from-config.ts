/**
 * Builds a scheduler from diffusers' `scheduler_config.json`, dispatching on its `_class_name`
 * (what `SchedulerMixin.from_pretrained(..., subfolder="scheduler")` does).
 */
import { join } from 'node:path';
import { InvalidOptionError, UnsupportedError } from '@erase/core';
import type { Scheduler } from '@erase/core';
import { readJsonConfig } from '../io/config';
import { DDIMScheduler } from './ddim';
import { DDPMScheduler } from './ddpm';
import { EulerDiscreteScheduler } from './euler-discrete';
import { PNDMScheduler } from './pndm';

/** The scheduler classes `schedulerFromConfig` knows, by diffusers class name. */
export const SCHEDULER_CLASSES = {
  DDIMScheduler,
  DDPMScheduler,
  PNDMScheduler,
  EulerDiscreteScheduler,
} as const;

/** A diffusers scheduler class name supported here. */
export type SchedulerClassName = keyof typeof SCHEDULER_CLASSES;

/**
 * A scheduler from a diffusers config object. The class is `className` when given (to load one config into
 * another scheduler, as `Cls.from_config(pipe.scheduler.config)`), else the config's `_class_name`.
 * @throws InvalidOptionError when no class is named; UnsupportedError for a class not implemented here
 *   (the message lists the supported ones); InvalidOptionError for bad config values.
 */
export function schedulerFromConfig(json: Readonly<Record<string, unknown>>, className?: SchedulerClassName): Scheduler {
  const name = className ?? json._class_name;
  if (typeof name !== 'string') {
    throw new InvalidOptionError({
      option: '_class_name',
      expected: `a scheduler class name (${Object.keys(SCHEDULER_CLASSES).join(', ')})`,
      received: name,
    });
  }
  if (!Object.hasOwn(SCHEDULER_CLASSES, name)) {
    throw new UnsupportedError(
      `Scheduler class ${JSON.stringify(name)} is not supported; supported classes: ${Object.keys(SCHEDULER_CLASSES).join(', ')}. ` +
        'Pass one of them as `className` to load this config into it.',
    );
  }
  return SCHEDULER_CLASSES[name as SchedulerClassName].fromConfig(json);
}

/**
 * Reads `<dir>/scheduler_config.json` (a diffusers `scheduler/` folder) and builds its scheduler.
 * @throws FileFormatError naming the file when it is missing or not a JSON object; see `schedulerFromConfig`.
 */
export function schedulerFromPretrained(dir: string, className?: SchedulerClassName): Scheduler {
  return schedulerFromConfig(readJsonConfig(join(dir, 'scheduler_config.json')), className);
}
