/**
 * Scheduler configs as data: diffusers writes `scheduler_config.json` with snake_case keys; a scheduler keeps a
 * typed camelCase config. `parseSchedulerConfig` validates every known key, fills diffusers' defaults and ignores
 * keys the class does not use (as `from_config` does: one SD config serves every scheduler class).
 */
import { InvalidOptionError } from '@erase/core';
import { MAX_TRAIN_TIMESTEPS, camelToSnake, camelizeConfig } from '../io/config';

/** How one config field is checked. */
export type FieldSpec =
  | { readonly kind: 'number' }
  | { readonly kind: 'positive-integer'; readonly max?: number }
  | { readonly kind: 'integer' }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'number-or-null' }
  | { readonly kind: 'numbers-or-null' }
  | { readonly kind: 'enum'; readonly values: readonly string[] };

/** A spec per field of config `C`. */
export type ConfigSpec<C> = { readonly [K in keyof C]-?: FieldSpec };

/**
 * Builds a typed config from `raw` (snake_case as on disk, or camelCase as in code; unknown keys are ignored,
 * missing keys take `defaults`).
 * @throws InvalidOptionError naming `<className>.<snake_key>` and what was expected.
 */
export function parseSchedulerConfig<C extends object>(
  className: string,
  raw: Readonly<Record<string, unknown>>,
  defaults: C,
  spec: ConfigSpec<C>,
): C {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidOptionError({ option: `${className} config`, expected: 'a config object', received: raw });
  }
  const camel = camelizeConfig(raw);
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const key of Object.keys(spec) as (keyof C & string)[]) {
    const value = camel[key];
    if (value === undefined) continue;
    out[key] = checkField(`${className}.${camelToSnake(key)}`, value, spec[key]);
  }
  return out as C;
}

function checkField(option: string, value: unknown, field: FieldSpec): unknown {
  const fail = (expected: string): never => {
    throw new InvalidOptionError({ option, expected, received: value });
  };
  switch (field.kind) {
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? value : fail('a finite number');
    case 'positive-integer': {
      const max = field.max ?? Number.MAX_SAFE_INTEGER;
      return Number.isSafeInteger(value) && (value as number) > 0 && (value as number) <= max
        ? value
        : fail(field.max === undefined ? 'a positive integer' : `a positive integer up to ${max}`);
    }
    case 'integer':
      return Number.isSafeInteger(value) ? value : fail('an integer');
    case 'boolean':
      return typeof value === 'boolean' ? value : fail('true or false');
    case 'number-or-null':
      return value === null || (typeof value === 'number' && Number.isFinite(value)) ? value : fail('a finite number or null');
    case 'numbers-or-null':
      if (value === null) return null;
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
        return fail('an array of finite numbers or null');
      }
      return [...(value as number[])];
    case 'enum':
      return typeof value === 'string' && field.values.includes(value)
        ? value
        : fail(`one of ${field.values.map((v) => JSON.stringify(v)).join(', ')}`);
  }
}

/** Specs of the schedule fields every scheduler shares. */
export const BETA_FIELDS = {
  numTrainTimesteps: { kind: 'positive-integer', max: MAX_TRAIN_TIMESTEPS },
  betaStart: { kind: 'number' },
  betaEnd: { kind: 'number' },
  trainedBetas: { kind: 'numbers-or-null' },
  stepsOffset: { kind: 'integer' },
  timestepSpacing: { kind: 'enum', values: ['leading', 'linspace', 'trailing'] },
} as const satisfies Record<string, FieldSpec>;

/** `beta_schedule` spec without the DDPM-only `sigmoid`. */
export const BETA_SCHEDULE_FIELD = {
  kind: 'enum',
  values: ['linear', 'scaled_linear', 'squaredcos_cap_v2'],
} as const satisfies FieldSpec;

/** `prediction_type` spec. */
export const PREDICTION_TYPE_FIELD = {
  kind: 'enum',
  values: ['epsilon', 'v_prediction', 'sample'],
} as const satisfies FieldSpec;
