import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real models, real photos, real services: generous but bounded.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores here; onnxruntime and sharp use threads of their own.
    pool: 'forks',
    maxWorkers: 2,
    globalSetup: ['test/global-setup.ts'],
  },
});
