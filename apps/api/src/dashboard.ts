// The operations dashboard (dashboard/, built by Vite into dist/dashboard) served at `/`. The page and its
// assets are public, they hold no data: everything it shows comes from the REST API with the user's key,
// under the same guard as any other client. A strict Content-Security-Policy keeps the page to its own
// scripts and to this origin.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';

export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * dist/dashboard of the checkout this file runs from: from apps/api/src (tests, tsx) or dist/apps/api/src
 * (compiled), the first parent holding package.json is the project root.
 */
export function defaultDashboardDir(from = __dirname): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist/dashboard');
    if (dirname(dir) === dir) return undefined;
  }
}

/** Serves the built dashboard at `/` when it exists (a build without it serves the API alone). */
export function serveDashboard(app: NestExpressApplication, dir: string | undefined): boolean {
  if (dir === undefined || !existsSync(join(dir, 'index.html'))) return false;
  app.useStaticAssets(dir, {
    index: 'index.html',
    // Vite names assets by content hash: cache them for good; index.html is re-checked every time.
    setHeaders: (res, path) => {
      res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Referrer-Policy', 'no-referrer');
      res.setHeader(
        'Cache-Control',
        /[\\/]assets[\\/]/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
  });
  return true;
}
