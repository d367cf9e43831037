import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The real-kernel and image suites have their own npm scripts: they need QEMU and podman.
    exclude: ["test/kernel/**", "test/image/**", "node_modules/**"],
    testTimeout: 20_000,
    reporters: ["default"],
  },
});
