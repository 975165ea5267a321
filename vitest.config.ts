import { resolve } from 'node:path';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

const libs = resolve(__dirname, 'libs');

export default defineConfig({
  // SWC instead of esbuild: NestJS needs emitDecoratorMetadata, which esbuild does not emit.
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: {
    // Mirrors the "paths" of tsconfig.json: @lwm2m/<lib>[/<file>] -> libs/<lib>/src[/<file>]
    alias: [
      { find: /^@lwm2m\/([a-z0-9-]+)\/(.+)$/, replacement: `${libs}/$1/src/$2` },
      { find: /^@lwm2m\/([a-z0-9-]+)$/, replacement: `${libs}/$1/src` },
    ],
  },
  test: {
    include: ['libs/**/*.spec.ts', 'apps/**/*.spec.ts', 'test/**/*.spec.ts'],
    environment: 'node',
    globalSetup: ['test/support/global-build.ts'],
    pool: 'forks',
    // --expose-gc lets the fuzz harness measure what one decode allocates.
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
