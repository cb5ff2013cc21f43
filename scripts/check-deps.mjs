#!/usr/bin/env node
// Dependency-direction check (run as each package's lint): methods → sampling → core ← sd; eval → core.
// `core`, `sampling` and `eval` must never depend on or import `@erase/sd`, and `core` imports no other @erase package.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const forbidden = {
  '@erase/core': ['@erase/sd', '@erase/sampling', '@erase/eval', '@erase/methods'],
  '@erase/sampling': ['@erase/sd', '@erase/eval', '@erase/methods'],
  '@erase/eval': ['@erase/sd', '@erase/sampling', '@erase/methods'],
  '@erase/shapes-world': ['@erase/sampling', '@erase/methods'],
  '@erase/methods': [],
};
// Packages whose algorithm code must stay model-agnostic: only the listed src/ folders (model I/O, the CLI) may
// import these packages (the algorithms see core's DiffusionModel interface only).
const confined = { '@erase/methods': { packages: ['@erase/sd', '@erase/shapes-world'], folders: ['src/io', 'src/cli'] } };
// Packages whose tests may use a banned package (as a devDependency) while their src/ must not import it.
const devOnly = {};

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const banned = forbidden[pkg.name] ?? [];
const problems = [];
for (const field of ['dependencies', 'peerDependencies', 'devDependencies', 'optionalDependencies']) {
  for (const dep of Object.keys(pkg[field] ?? {})) {
    const allowed = field === 'devDependencies' && (devOnly[pkg.name] ?? []).includes(dep);
    if (banned.includes(dep) && !allowed) problems.push(`package.json ${field} lists ${dep}`);
  }
}

const confinement = confined[pkg.name];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (/\.(ts|mts|js|mjs)$/.test(name)) {
      const text = readFileSync(path, 'utf8');
      const inAllowedFolder = confinement !== undefined && confinement.folders.some((f) => path === f || path.startsWith(`${f}/`));
      const bannedHere = confinement !== undefined && !inAllowedFolder ? [...banned, ...confinement.packages] : banned;
      for (const dep of bannedHere) {
        const pattern = new RegExp(`(from\\s+|import\\(\\s*|require\\(\\s*)['"]${dep.replace('/', '\\/')}(['"/])`);
        if (pattern.test(text)) problems.push(`${path} imports ${dep}`);
      }
    }
  }
}
walk('src');

if (problems.length > 0) {
  console.error(`${pkg.name}: dependency-direction violations:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`${pkg.name}: dependency direction ok (${banned.length} packages banned, none used)`);
