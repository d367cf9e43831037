// An in-process stand-in for kube-apiserver, for tests that drive the real @kubernetes/client-node,
// kubectl and helm over HTTP(S). What it serves, and how it differs from the real one:
// test/support/README.md.
export { startTestApiServer, type RequestRecord, type TestApiServer, type TestApiServerOptions } from "./apiserver/server.js";
export type { FailRule, RequestMatcher } from "./apiserver/faults.js";
export type { Faults } from "./apiserver/faults.js";
export { privilegedDisallowed, webhookDenies, type AdmissionPolicy } from "./apiserver/admission-policies.js";
export type { JsonObject, ResourceType } from "./apiserver/types.js";
export type { StatusBody } from "./apiserver/status.js";
export type { AuthorizationOptions, TokenUser } from "./apiserver/authentication.js";
export type { AuthorizationCheck } from "./apiserver/owner-admission.js";
export type { Decision, UserInfo } from "./apiserver/rbac.js";
export { permissionText, type RequestAttributes } from "./apiserver/request-info.js";
