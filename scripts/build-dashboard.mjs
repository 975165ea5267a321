// Builds the operations dashboard (dashboard/, Vite + Preact) into dist/dashboard, where the api serves it at
// `/`. Runs after `nest build` (which empties dist/): by `npm run build`, `npm start` and the tests' global build.
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from './build-stamp.mjs';

export const DASHBOARD_INDEX = join(ROOT, 'dist/dashboard/index.html');

/** `stdio`: 'inherit' for a person at a terminal, 'pipe' for the tests. */
export function buildDashboard(stdio = 'inherit') {
  execFileSync(
    process.execPath,
    [
      join(ROOT, 'node_modules/vite/bin/vite.js'),
      'build',
      '--config',
      join(ROOT, 'dashboard/vite.config.mjs'),
    ],
    { cwd: ROOT, stdio, timeout: 300_000 },
  );
}

// `node scripts/build-dashboard.mjs` (npm run build:dashboard).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) buildDashboard();
