// Entry point kept at test/support/crd.ts; the implementation lives in ./crd/.
export * from "./crd/index.js";
