export * from "./constants.js";
export * from "./duration.js";
export * from "./drop-reasons.js";
export * from "./kubernetes.js";
export * from "./droptrace.js";
export * from "./report.js";
export * from "./names.js";
export * from "./field-errors.js";
