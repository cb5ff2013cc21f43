/** The parity gate: skip with a notice when fixtures are absent, fail when CI is set. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { optionalFixture } from '../fixture-gate';

describe('optionalFixture', () => {
  const saved = process.env.CI;
  afterEach(() => {
    if (saved === undefined) delete process.env.CI;
    else process.env.CI = saved;
    vi.restoreAllMocks();
  });

  it('prints a notice and returns undefined for a missing fixture outside CI', () => {
    delete process.env.CI;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(optionalFixture('no-such-fixture-folder')).toBeUndefined();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('no-such-fixture-folder'));
  });

  it('throws for a missing fixture when CI is set', () => {
    process.env.CI = 'true';
    expect(() => optionalFixture('no-such-fixture-folder')).toThrow(/required when CI is set/);
  });
});
