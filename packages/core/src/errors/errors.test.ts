// Tests of the typed errors: cross-copy `isInstance`, discrimination by code, and the messages' content.
import { describe, expect, it } from 'vitest';
import {
  AbortedError,
  BackendUnavailableError,
  EraseError,
  FileFormatError,
  InvalidOptionError,
  NotPositiveDefiniteError,
  SamplingExhaustedError,
  ShapeMismatchError,
  UnsupportedError,
  WeightKeysError,
  throwIfAborted,
  type EraseErrorCode,
} from './errors';

/** One instance of every subclass, with its class and code. */
const samples = [
  [InvalidOptionError, 'ERASE_INVALID_OPTION', new InvalidOptionError({ option: 'lambda', expected: 'a number >= 0', received: -1 })],
  [FileFormatError, 'ERASE_FILE_FORMAT', new FileFormatError({ file: 'a.safetensors', expected: 'a header', problem: 'empty file' })],
  [WeightKeysError, 'ERASE_WEIGHT_KEYS', new WeightKeysError({ source: 'unet', missing: ['a'] })],
  [NotPositiveDefiniteError, 'ERASE_NOT_POSITIVE_DEFINITE', new NotPositiveDefiniteError({ what: 'G', option: 'lambda', current: 0 })],
  [SamplingExhaustedError, 'ERASE_SAMPLING_EXHAUSTED', new SamplingExhaustedError({ what: 'mining', accepted: 1, wanted: 4, attempts: 400, hint: 'Widen the band.' })],
  [BackendUnavailableError, 'ERASE_BACKEND_UNAVAILABLE', new BackendUnavailableError({ backend: 'tensorflow', packageName: '@tensorflow/tfjs-node', reason: 'not installed.' })],
  [ShapeMismatchError, 'ERASE_SHAPE_MISMATCH', new ShapeMismatchError({ what: 'keys', expected: [null, 768], received: [3, 512] })],
  [AbortedError, 'ERASE_ABORTED', new AbortedError('training')],
  [UnsupportedError, 'ERASE_UNSUPPORTED', new UnsupportedError('pickle checkpoints are not supported; convert to safetensors.')],
] as const;

/** What a copy of this package loaded twice would produce: same marker and code, a different class. */
function foreignError(code: EraseErrorCode): Error {
  class OtherCopyError extends Error {}
  const error = new OtherCopyError('from another copy');
  Object.assign(error, { code, [Symbol.for('@erase/core.error')]: true });
  return error;
}

describe('typed errors', () => {
  it('every subclass is an Error, an EraseError, and carries its code and name', () => {
    for (const [Class, code, error] of samples) {
      expect(error).toBeInstanceOf(Error);
      expect(error).toBeInstanceOf(EraseError);
      expect(error).toBeInstanceOf(Class);
      expect(error.code).toBe(code);
      expect(error.name).toBe(Class.name);
      expect(EraseError.isInstance(error)).toBe(true);
    }
  });

  it("subclasses' isInstance discriminate by code", () => {
    for (const [Class] of samples) {
      for (const [Other, , error] of samples) {
        expect(Class.isInstance(error), `${Class.name}.isInstance(${Other.name})`).toBe(Class === Other);
      }
    }
  });

  it('isInstance recognises an error from a duplicate copy of the package (marker + code), by hand', () => {
    const plain = { [Symbol.for('@erase/core.error')]: true, code: 'ERASE_SHAPE_MISMATCH', message: 'x' };
    expect(EraseError.isInstance(plain)).toBe(true);
    expect(ShapeMismatchError.isInstance(plain)).toBe(true);
    expect(InvalidOptionError.isInstance(plain)).toBe(false);
    for (const [Class, code] of samples) {
      const foreign = foreignError(code);
      expect(foreign).not.toBeInstanceOf(EraseError);
      expect(Class.isInstance(foreign)).toBe(true);
      expect(EraseError.isInstance(foreign)).toBe(true);
    }
  });

  it('isInstance rejects lookalikes without the marker, and non-objects', () => {
    const lookalikes: unknown[] = [
      null,
      undefined,
      'ERASE_INVALID_OPTION',
      42,
      new Error('plain'),
      { code: 'ERASE_INVALID_OPTION' },
      { [Symbol.for('@erase/core.error')]: 'true', code: 'ERASE_INVALID_OPTION' },
      { [Symbol('@erase/core.error')]: true, code: 'ERASE_INVALID_OPTION' },
    ];
    for (const value of lookalikes) {
      expect(EraseError.isInstance(value)).toBe(false);
      expect(InvalidOptionError.isInstance(value)).toBe(false);
    }
  });

  it('messages name the option, the file, every key, the rate', () => {
    const invalid = new InvalidOptionError({ option: 'lambda', expected: 'a finite number >= 0', received: -1 });
    expect(invalid.message).toBe('Invalid option `lambda`: expected a finite number >= 0, received -1.');
    expect(invalid).toMatchObject({ option: 'lambda', expected: 'a finite number >= 0', received: -1 });
    const long = new InvalidOptionError({ option: 'prompt', expected: 'at most 77 tokens', received: 'x'.repeat(200) });
    expect(long.message).toContain('...');
    expect(long.message.length).toBeLessThan(200);
    expect(new InvalidOptionError({ option: 'a', expected: 'b', message: 'custom' }).message).toBe('custom');

    const keys = new WeightKeysError({
      source: 'model.safetensors',
      missing: ['m1', 'm2'],
      unexpected: ['u1'],
      wrongShape: [{ key: 'w', expected: [4, 3], received: [3, 4] }],
    });
    for (const part of ['model.safetensors', 'Missing keys (2)', '  - m1', '  - m2', 'Unexpected keys (1)', '  - u1', 'w: expected [4, 3], found [3, 4]']) {
      expect(keys.message).toContain(part);
    }

    const pd = new NotPositiveDefiniteError({ what: 'The Gram matrix', option: 'lambda', current: 0 });
    expect(pd.message).toContain('`lambda` (now 0)');
    expect(pd.option).toBe('lambda');

    const exhausted = new SamplingExhaustedError({ what: 'mining', accepted: 1, wanted: 4, attempts: 400, hint: 'Widen the band.' });
    expect(exhausted.acceptanceRate).toBe(1 / 400);
    expect(exhausted.message).toContain('0.250%');
    expect(new SamplingExhaustedError({ what: 'x', accepted: 0, wanted: 1, attempts: 0, hint: '' }).acceptanceRate).toBe(0);

    expect(new ShapeMismatchError({ what: 'keys', expected: [null, 768], received: [3, 512] }).message).toBe(
      'keys: expected shape [?, 768], received [3, 512].',
    );
    expect(new FileFormatError({ file: 'f.json', expected: 'JSON', problem: 'truncated' }).message).toBe('f.json: truncated (expected JSON).');
    expect(new BackendUnavailableError({ backend: 'tensorflow', packageName: '@tensorflow/tfjs-node', reason: 'missing.' }).message).toContain(
      'npm install @tensorflow/tfjs-node',
    );
  });

  it('throwIfAborted throws AbortedError carrying the reason, and nothing otherwise', () => {
    expect(() => throwIfAborted(undefined, 'x')).not.toThrow();
    const controller = new AbortController();
    expect(() => throwIfAborted(controller.signal, 'x')).not.toThrow();
    controller.abort(new Error('user'));
    try {
      throwIfAborted(controller.signal, 'sampling');
      expect.unreachable();
    } catch (error) {
      expect(AbortedError.isInstance(error)).toBe(true);
      expect((error as Error).message).toBe('sampling was aborted.');
      expect(((error as Error).cause as Error).message).toBe('user');
    }
  });
});
