import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'alerts/**/*.test.ts', 'dashboards/**/*.test.ts', 'helm/**/*.test.ts', 'bench/**/*.test.ts'],
    // e2e tests start real processes; on 2 cores, give them room.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Golden files are never written by a plain test run, in CI or not: a
    // missing or stale golden fails. Only an explicit update writes them:
    // `npm run generate` (every generated file) or `npx vitest run -u FILE`.
    update: 'none',
  },
});
