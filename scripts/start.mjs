// `npm start`: compile only when a source changed since the last build, then run the single node IN THIS
// PROCESS. No child process means a SIGTERM to `npm start` (which npm forwards to this process: the script
// is `exec node ...`) reaches the server itself and nothing is left holding the ports; skipping an
// up-to-date build makes a second start as fast as `node dist/...`.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { distUpToDate, MAIN, ROOT, writeBuildStamp } from './build-stamp.mjs';
import { buildDashboard } from './build-dashboard.mjs';

if (process.env.START_FORCE_BUILD === '1' || !distUpToDate()) {
  const before = new Date();
  console.log('compiling (sources changed since the last build)...');
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/@nestjs/cli/bin/nest.js'), 'build', 'server'], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    // After nest build, which empties dist/: the dashboard the api serves at `/`.
    buildDashboard();
  } catch {
    console.error('npm start: the build failed (errors above); nothing was started');
    process.exit(1);
  }
  writeBuildStamp(before);
  console.log(`compiled in ${((Date.now() - before.getTime()) / 1000).toFixed(1)} s`);
}

// `npm run bench:start` only wants the build.
if (process.env.START_BUILD_ONLY !== '1') createRequire(import.meta.url)(MAIN);
