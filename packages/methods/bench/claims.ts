/**
 * Work claims for erasure benchmark runs side by side (erasure.ts with `--resume`): before a run measures a
 * (method, class) row or a sweep point it claims the key in `${results}.claims.json`, under the results file's lock,
 * and a run beside it skips every key claimed by a live process. So several runs given the same `--classes` share
 * the work (whoever is free takes the next key) instead of each being given a fixed part of it, and the last hour is
 * not spent by one process alone. A claim is live while its process is: same host and the pid answers signal 0; a
 * claim from another host counts as live for `foreignTtlMs`. A crashed or stopped run leaves a dead claim, which
 * the next run takes over.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { writeFileAtomic } from '@erase/core';

/** Who is measuring a key, and since when (ISO time). */
export interface Claim { pid: number; host: string; since: string }
export type Claims = Record<string, Claim>;

/** This process's claim. */
export function ownClaim(now = new Date()): Claim {
  return { pid: process.pid, host: hostname(), since: now.toISOString() };
}

/** Whether the process `pid` of this host exists (EPERM: it exists, owned by another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface LivenessOptions {
  host?: string;
  alive?: (pid: number) => boolean;
  now?: number;
  /** How long a claim from another host counts as live, ms (default 12 h). */
  foreignTtlMs?: number;
}

/** Whether `claim` still holds its key (see the module note). */
export function claimIsLive(claim: Claim, options: LivenessOptions = {}): boolean {
  const host = options.host ?? hostname();
  if (claim.host === host) return (options.alive ?? pidAlive)(claim.pid);
  const age = (options.now ?? Date.now()) - Date.parse(claim.since);
  return Number.isFinite(age) && age < (options.foreignTtlMs ?? 12 * 3600_000);
}

/** The claims in `path` ({} when absent or unreadable: claims only steer work, they never hold results). */
export function readClaims(path: string): Claims {
  if (!existsSync(path)) return {};
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Claims) : {};
  } catch {
    return {};
  }
}

/** Writes `claims` (removes the file when none are left). */
function writeClaims(path: string, claims: Claims): void {
  if (Object.keys(claims).length === 0) rmSync(path, { force: true });
  else writeFileAtomic(path, `${JSON.stringify(claims, null, 2)}\n`);
}

/**
 * Claims `key` for `self` unless another live process holds it. Call under the results file's lock (claims are read
 * and written without one of their own). Dead claims met on the way are dropped.
 * @returns whether `self` now holds `key`
 */
export function tryClaim(path: string, key: string, self: Claim, options: LivenessOptions = {}): boolean {
  const claims = readClaims(path);
  for (const [k, c] of Object.entries(claims)) if (!claimIsLive(c, options)) delete claims[k];
  const holder = claims[key];
  const mine = holder !== undefined && holder.pid === self.pid && holder.host === self.host;
  if (holder && !mine) {
    writeClaims(path, claims);
    return false;
  }
  claims[key] = self;
  writeClaims(path, claims);
  return true;
}

/** Drops `key`'s claim if `self` holds it (under the results file's lock). */
export function releaseClaim(path: string, key: string, self: Claim): void {
  const claims = readClaims(path);
  const holder = claims[key];
  if (!holder || holder.pid !== self.pid || holder.host !== self.host) return;
  delete claims[key];
  writeClaims(path, claims);
}
