// Bearer tokens to users, as a static token file would map them, plus what the real authenticators
// add: every authenticated user is in system:authenticated, and a service account's user name
// (system:serviceaccount:<ns>:<name>) puts it in system:serviceaccounts and
// system:serviceaccounts:<ns>, as a service account token would. No token, or an unknown one:
// 401 (anonymous requests are not allowed).
import type { IncomingHttpHeaders } from "node:http";
import type { UserInfo } from "./rbac.js";
import { ApiError } from "./status.js";

export interface TokenUser {
  user: string;
  groups?: string[];
}

export interface AuthorizationOptions {
  /** bearer token → user; every other token (and no token) gets 401 */
  tokens: Record<string, TokenUser>;
}

export const unauthorized = (): ApiError =>
  new ApiError({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "Unauthorized", reason: "Unauthorized", code: 401 });

/** The groups the real authenticators would give this user. */
export function userInfo(name: string, groups: string[] = []): UserInfo {
  const all = [...groups];
  const sa = /^system:serviceaccount:([^:]+):[^:]+$/.exec(name);
  if (sa?.[1] !== undefined) all.push("system:serviceaccounts", `system:serviceaccounts:${sa[1]}`);
  all.push("system:authenticated");
  return { name, groups: [...new Set(all)] };
}

export function authenticate(opts: AuthorizationOptions, headers: IncomingHttpHeaders): UserInfo {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? "");
  const token = m?.[1];
  const entry = token === undefined ? undefined : opts.tokens[token];
  if (entry === undefined) throw unauthorized();
  return userInfo(entry.user, entry.groups);
}
