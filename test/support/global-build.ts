// Vitest globalSetup: compiles the product once (`nest build server` compiles every app into dist/, as
// `npm start` does) before any test file runs, so the tests that start real processes (the restart test,
// the gateway cluster) share one build instead of racing to rebuild dist/.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { writeBuildStamp } from '../../scripts/build-stamp.mjs';
import { buildDashboard } from '../../scripts/build-dashboard.mjs';

export default function setup(): void {
  // A run of unit tests only, while dist/ is fresh or in use by another run, may skip it.
  if (process.env.SKIP_BUILD === '1') return;
  const startedAt = new Date();
  execFileSync('npx', ['nest', 'build', 'server'], {
    cwd: resolve(__dirname, '../..'),
    stdio: 'pipe',
    timeout: 300_000,
  });
  // The dashboard the api serves at `/` (the browser tests use it), after nest build emptied dist/.
  buildDashboard('pipe');
  // `npm start` (scripts/start.mjs) then runs this build without compiling again.
  writeBuildStamp(startedAt);
}
