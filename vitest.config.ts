import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/harness/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      // Unit tests beside the code share a worker's module cache between files: each file
      // importing the server's modules afresh cost more than running its tests (the suite's
      // import time halves for these files). They keep no module state of their own between files.
      { extends: true, test: { name: 'unit', include: ['src/**/*.test.ts'], isolate: false } },
      // Tests that start servers, agents and browsers each get a fresh worker.
      { extends: true, test: { name: 'e2e', include: ['test/**/*.test.ts'] } },
    ],
  },
});
