// CustomResourceDefinitions for tests: load them from `crds/` and validate objects against them
// the way kube-apiserver does (pruning, structural defaulting, OpenAPI schema, CEL rules).
export { defaultCrdDir, loadCrds, parseCrd } from "./load.js";
export { validateCustomResource, validateCustomResourceFieldErrors, type ValidateOptions } from "./validate.js";
export type { CrdValidationResult, CrdVersion, FieldCause, JSONSchemaProps, LoadedCrd, ValidationRule } from "./types.js";
export { aggregateMessage, errorText, type FieldError } from "./field-error.js";
