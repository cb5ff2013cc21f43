/**
 * Typed errors shared by every @erase package.
 *
 * Each error carries a stable `code`, structured fields and a `Symbol.for` marker, so `isInstance`
 * works even when two copies of this package are installed (vercel/ai's pattern). Throw
 * `TypeError`-like cases (wrong kind of argument) and `RangeError`-like cases (wrong size or value)
 * as `InvalidOptionError` with the option name and what was expected.
 */

const marker = Symbol.for('@erase/core.error');

/** Error codes; one per subclass. */
export type EraseErrorCode =
  | 'ERASE_INVALID_OPTION'
  | 'ERASE_FILE_FORMAT'
  | 'ERASE_WEIGHT_KEYS'
  | 'ERASE_NOT_POSITIVE_DEFINITE'
  | 'ERASE_SAMPLING_EXHAUSTED'
  | 'ERASE_BACKEND_UNAVAILABLE'
  | 'ERASE_SHAPE_MISMATCH'
  | 'ERASE_ABORTED'
  | 'ERASE_UNSUPPORTED';

/** Base class of every error thrown on purpose by @erase packages. */
export class EraseError extends Error {
  readonly [marker] = true;
  readonly code: EraseErrorCode;

  constructor(code: EraseErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'EraseError';
  }

  /** True for any EraseError, from any copy of this package. */
  static isInstance(error: unknown): error is EraseError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[marker] === true;
  }
}

function hasCode(error: unknown, code: EraseErrorCode): boolean {
  return EraseError.isInstance(error) && error.code === code;
}

/** An option or argument has the wrong type, size or value. Names the option and what was expected. */
export class InvalidOptionError extends EraseError {
  readonly option: string;
  readonly expected: string;
  readonly received: unknown;
  constructor(args: { option: string; expected: string; received?: unknown; message?: string }) {
    super(
      'ERASE_INVALID_OPTION',
      args.message ??
        `Invalid option \`${args.option}\`: expected ${args.expected}, received ${describeValue(args.received)}.`,
    );
    this.name = 'InvalidOptionError';
    this.option = args.option;
    this.expected = args.expected;
    this.received = args.received;
  }
  static override isInstance(error: unknown): error is InvalidOptionError {
    return hasCode(error, 'ERASE_INVALID_OPTION');
  }
}

/** A file is malformed or not what was expected. Names the file and what was expected. */
export class FileFormatError extends EraseError {
  readonly file: string;
  readonly expected: string;
  constructor(args: { file: string; expected: string; problem: string; cause?: unknown }) {
    super('ERASE_FILE_FORMAT', `${args.file}: ${args.problem} (expected ${args.expected}).`, { cause: args.cause });
    this.name = 'FileFormatError';
    this.file = args.file;
    this.expected = args.expected;
  }
  static override isInstance(error: unknown): error is FileFormatError {
    return hasCode(error, 'ERASE_FILE_FORMAT');
  }
}

/** Weights do not match the model: lists every missing, unexpected and wrongly shaped key at once. */
export class WeightKeysError extends EraseError {
  readonly source: string;
  readonly missing: readonly string[];
  readonly unexpected: readonly string[];
  readonly wrongShape: readonly { key: string; expected: readonly number[]; received: readonly number[] }[];
  constructor(args: {
    source: string;
    missing?: readonly string[];
    unexpected?: readonly string[];
    wrongShape?: readonly { key: string; expected: readonly number[]; received: readonly number[] }[];
  }) {
    const missing = args.missing ?? [];
    const unexpected = args.unexpected ?? [];
    const wrongShape = args.wrongShape ?? [];
    const lines = [`${args.source}: the weights do not match the model.`];
    if (missing.length > 0) lines.push(`Missing keys (${missing.length}):`, ...missing.map((k) => `  - ${k}`));
    if (unexpected.length > 0) lines.push(`Unexpected keys (${unexpected.length}):`, ...unexpected.map((k) => `  - ${k}`));
    if (wrongShape.length > 0) {
      lines.push(
        `Keys with the wrong shape (${wrongShape.length}):`,
        ...wrongShape.map((w) => `  - ${w.key}: expected [${w.expected.join(', ')}], found [${w.received.join(', ')}]`),
      );
    }
    super('ERASE_WEIGHT_KEYS', lines.join('\n'));
    this.name = 'WeightKeysError';
    this.source = args.source;
    this.missing = missing;
    this.unexpected = unexpected;
    this.wrongShape = wrongShape;
  }
  static override isInstance(error: unknown): error is WeightKeysError {
    return hasCode(error, 'ERASE_WEIGHT_KEYS');
  }
}

/** The closed-form system is not positive definite. Says which option to raise. */
export class NotPositiveDefiniteError extends EraseError {
  readonly option: string;
  constructor(args: { what: string; option: string; current: number }) {
    super(
      'ERASE_NOT_POSITIVE_DEFINITE',
      `${args.what} is not positive definite; raise \`${args.option}\` (now ${args.current}) so the system can be solved.`,
    );
    this.name = 'NotPositiveDefiniteError';
    this.option = args.option;
  }
  static override isInstance(error: unknown): error is NotPositiveDefiniteError {
    return hasCode(error, 'ERASE_NOT_POSITIVE_DEFINITE');
  }
}

/** Rejection sampling ran out of attempts. Reports the acceptance rate seen. */
export class SamplingExhaustedError extends EraseError {
  readonly accepted: number;
  readonly wanted: number;
  readonly attempts: number;
  readonly acceptanceRate: number;
  constructor(args: { what: string; accepted: number; wanted: number; attempts: number; hint: string }) {
    const rate = args.attempts > 0 ? args.accepted / args.attempts : 0;
    super(
      'ERASE_SAMPLING_EXHAUSTED',
      `${args.what}: accepted ${args.accepted} of ${args.wanted} wanted samples in ${args.attempts} attempts ` +
        `(acceptance rate ${(rate * 100).toFixed(3)}%). ${args.hint}`,
    );
    this.name = 'SamplingExhaustedError';
    this.accepted = args.accepted;
    this.wanted = args.wanted;
    this.attempts = args.attempts;
    this.acceptanceRate = rate;
  }
  static override isInstance(error: unknown): error is SamplingExhaustedError {
    return hasCode(error, 'ERASE_SAMPLING_EXHAUSTED');
  }
}

/** A backend was asked for by name but its package is not installed or failed to start. */
export class BackendUnavailableError extends EraseError {
  readonly backend: string;
  readonly packageName: string | undefined;
  constructor(args: { backend: string; packageName?: string; reason: string; cause?: unknown }) {
    super(
      'ERASE_BACKEND_UNAVAILABLE',
      `Backend "${args.backend}" is unavailable: ${args.reason}` +
        (args.packageName ? ` Install it with \`npm install ${args.packageName}\`.` : ''),
      { cause: args.cause },
    );
    this.name = 'BackendUnavailableError';
    this.backend = args.backend;
    this.packageName = args.packageName;
  }
  static override isInstance(error: unknown): error is BackendUnavailableError {
    return hasCode(error, 'ERASE_BACKEND_UNAVAILABLE');
  }
}

/** Tensor shapes that must agree do not. */
export class ShapeMismatchError extends EraseError {
  readonly what: string;
  readonly expected: readonly (number | null)[];
  readonly received: readonly number[];
  constructor(args: { what: string; expected: readonly (number | null)[]; received: readonly number[] }) {
    super(
      'ERASE_SHAPE_MISMATCH',
      `${args.what}: expected shape [${args.expected.map((d) => (d === null ? '?' : d)).join(', ')}], ` +
        `received [${args.received.join(', ')}].`,
    );
    this.name = 'ShapeMismatchError';
    this.what = args.what;
    this.expected = args.expected;
    this.received = args.received;
  }
  static override isInstance(error: unknown): error is ShapeMismatchError {
    return hasCode(error, 'ERASE_SHAPE_MISMATCH');
  }
}

/** A long operation was stopped through its AbortSignal. */
export class AbortedError extends EraseError {
  constructor(what: string, options?: { cause?: unknown }) {
    super('ERASE_ABORTED', `${what} was aborted.`, options);
    this.name = 'AbortedError';
  }
  static override isInstance(error: unknown): error is AbortedError {
    return hasCode(error, 'ERASE_ABORTED');
  }
}

/** A feature or input that is recognised but not supported (e.g. a pickle `.ckpt`). Says what to do instead. */
export class UnsupportedError extends EraseError {
  constructor(message: string) {
    super('ERASE_UNSUPPORTED', message);
    this.name = 'UnsupportedError';
  }
  static override isInstance(error: unknown): error is UnsupportedError {
    return hasCode(error, 'ERASE_UNSUPPORTED');
  }
}

/** Throws `AbortedError` when `signal` is aborted. Call between steps of long loops. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(what, { cause: signal.reason });
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return typeof value;
}
