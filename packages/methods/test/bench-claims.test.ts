import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { claimIsLive, ownClaim, pidAlive, readClaims, releaseClaim, tryClaim, type Claim } from '../bench/claims';
import { useTempDirs } from './temp-dirs';

const tempDir = useTempDirs('bench-claims-');
const claimsFile = (): string => join(tempDir(), 'results.claims.json');
const at = (pid: number, host = 'here', since = '2026-12-07T00:00:00.000Z'): Claim => ({ pid, host, since });
/** pids 1 and 2 run on 'here'; every other pid is gone. */
const world = { host: 'here', alive: (pid: number) => pid === 1 || pid === 2, now: Date.parse('2026-12-07T01:00:00.000Z') };

describe('erasure benchmark work claims', () => {
  it('gives a key to the first live claimant only, and to the next once released', () => {
    const path = claimsFile();
    expect(tryClaim(path, 'esd-x/moon', at(1), world)).toBe(true);
    expect(tryClaim(path, 'esd-x/moon', at(2), world)).toBe(false); // held by live pid 1
    expect(tryClaim(path, 'esd-x/moon', at(1), world)).toBe(true); // its own claim again
    expect(tryClaim(path, 'esd-x/ring', at(2), world)).toBe(true); // another key
    expect(Object.keys(readClaims(path)).sort()).toEqual(['esd-x/moon', 'esd-x/ring']);
    releaseClaim(path, 'esd-x/moon', at(2)); // not the holder: no effect
    expect(readClaims(path)['esd-x/moon']?.pid).toBe(1);
    releaseClaim(path, 'esd-x/moon', at(1));
    expect(tryClaim(path, 'esd-x/moon', at(2), world)).toBe(true);
    releaseClaim(path, 'esd-x/moon', at(2));
    releaseClaim(path, 'esd-x/ring', at(2));
    expect(existsSync(path)).toBe(false); // no claims left: no file
  });

  it('takes over the claims of dead processes and drops them from the file', () => {
    const path = claimsFile();
    writeFileSync(path, JSON.stringify({ 'ap/star': at(77), 'ap/moon': at(78), 'ca/ring': at(2) }));
    expect(tryClaim(path, 'ap/star', at(1), world)).toBe(true);
    const left = JSON.parse(readFileSync(path, 'utf8')) as Record<string, Claim>;
    expect(Object.fromEntries(Object.entries(left).map(([k, c]) => [k, c.pid]))).toEqual({ 'ap/star': 1, 'ca/ring': 2 });
  });

  it('counts a claim from another host as live for the TTL only', () => {
    const foreign = at(5, 'elsewhere', '2026-12-07T00:30:00.000Z');
    expect(claimIsLive(foreign, { ...world, foreignTtlMs: 3600_000 })).toBe(true);
    expect(claimIsLive(foreign, { ...world, foreignTtlMs: 60_000 })).toBe(false);
    expect(claimIsLive({ ...foreign, since: 'not a date' }, world)).toBe(false);
  });

  it('treats an unreadable claims file as empty (claims steer work, they hold no results)', () => {
    const path = claimsFile();
    writeFileSync(path, '{ not json');
    expect(readClaims(path)).toEqual({});
    writeFileSync(path, '[1, 2]');
    expect(readClaims(path)).toEqual({});
    expect(tryClaim(path, 'k', at(1), world)).toBe(true);
  });

  it('knows this process is alive and a finished one is not', async () => {
    expect(pidAlive(process.pid)).toBe(true);
    expect(claimIsLive(ownClaim())).toBe(true);
    const { spawnSync } = await import('node:child_process');
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    expect(pidAlive(Number(child.stdout))).toBe(false);
  });
});
