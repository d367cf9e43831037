import { defineConfig } from "vitest/config";

// The real-kernel suite: builds a Debian guest, boots it under QEMU and traces for real.
export default defineConfig({
  test: {
    include: ["test/kernel/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 45 * 60_000,
    reporters: ["verbose"],
  },
});
