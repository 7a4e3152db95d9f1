/** Jest in ESM mode (run under node --experimental-vm-modules, see package.json). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // jest's sandbox lacks Symbol.dispose, which undici (client-node's HTTP client) needs.
  setupFiles: ['<rootDir>/test/setup/realmFix.ts'],
  // A hang guard, not a performance bound: on a loaded 2-core machine the Azurite and end-to-end suites need minutes.
  testTimeout: 180000,
  maxWorkers: 2,
};
