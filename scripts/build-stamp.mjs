// When dist/ is up to date: `npm start` compiles only when a source is newer than the stamp that the last
// build left (written by scripts/start.mjs and by the tests' global build).
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(import.meta.url), '../..');
export const MAIN = join(ROOT, 'dist/apps/server/src/main.js');
const STAMP = join(ROOT, 'dist/.build-stamp');

/** The newest modification time of what `nest build server` compiles (sources, configs, dependencies). */
export function newestSourceMtime(dir = ROOT) {
  let newest = 0;
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'nest-cli.json', 'package-lock.json']) {
    if (existsSync(join(dir, f))) newest = Math.max(newest, statSync(join(dir, f)).mtimeMs);
  }
  for (const top of ['apps', 'libs']) {
    for (const rel of readdirSync(join(dir, top), { recursive: true })) {
      const name = String(rel);
      // Tests are not compiled into dist/ (tsconfig.build.json excludes them).
      if (!name.endsWith('.ts') || name.endsWith('.spec.ts') || /(^|\/)test\//.test(name)) continue;
      newest = Math.max(newest, statSync(join(dir, top, name)).mtimeMs);
    }
  }
  // The dashboard (Vite builds it into dist/dashboard): its sources, styles, page and config.
  if (existsSync(join(dir, 'dashboard'))) {
    for (const rel of readdirSync(join(dir, 'dashboard'), { recursive: true })) {
      const name = String(rel);
      if (!/\.(tsx?|css|html|mjs|json)$/.test(name)) continue;
      newest = Math.max(newest, statSync(join(dir, 'dashboard', name)).mtimeMs);
    }
  }
  return newest;
}

export function distUpToDate() {
  if (!existsSync(MAIN) || !existsSync(STAMP) || !existsSync(join(ROOT, 'dist/dashboard/index.html')))
    return false;
  return statSync(STAMP).mtimeMs >= newestSourceMtime();
}

/** `startedAt`: when the build began, so a file saved during the build makes the next start build again. */
export function writeBuildStamp(startedAt) {
  writeFileSync(STAMP, `${startedAt.toISOString()}\n`);
  utimesSync(STAMP, startedAt, startedAt);
}
