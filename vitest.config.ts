import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Component tests share one Redis and spawn worker processes: two files at a time fit 2 cores.
    maxWorkers: 2,
  },
});
