import { defineConfig } from 'vitest/config'

// One project per package (unit tests), plus `interop`: the suite that runs indilib's own
// programs (indiserver, indi_getprop, C++ simulators) against ours. `npm test` runs all of them;
// `npm run test:interop` only the interop project.
const packages = [
  'indi-xml',
  'indi-queue',
  'transport',
  'transport-stdio',
  'transport-tcp',
  'indi-driver',
  'indi-server',
  'indi-msgpack',
  'transport-nats',
]

export default defineConfig({
  test: {
    projects: [
      ...packages.map((name) => ({
        test: {
          name,
          root: `packages/${name}`,
          include: ['test/**/*.test.ts'],
          exclude: ['test/interop/**'],
          testTimeout: 30_000,
        },
      })),
      {
        test: {
          name: 'examples',
          root: 'apps/examples',
          include: ['test/**/*.test.ts'],
          exclude: ['test/interop/**'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'interop',
          include: ['packages/*/test/interop/**/*.test.ts', 'apps/*/test/interop/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
})
