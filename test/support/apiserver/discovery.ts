// Discovery documents (/api, /apis, /apis/<group>, /apis/<group>/<version>, /version), as the
// real server shapes them, listing only what this server serves.
import type { ResourceRegistry } from "./registry.js";

export const emulatedVersion = { major: "1", minor: "33" };

export function discovery(registry: ResourceRegistry, path: string, serverAddress: string): unknown {
  const groups = registry.groups();
  const groupEntry = (name: string) => {
    const versions = (groups.get(name) ?? []).map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
    return { name, versions, preferredVersion: versions[0] };
  };
  if (path === "/version") {
    return {
      ...emulatedVersion,
      gitVersion: `v${emulatedVersion.major}.${emulatedVersion.minor}.0`,
      gitCommit: "0000000000000000000000000000000000000000",
      gitTreeState: "clean",
      buildDate: "2025-01-01T00:00:00Z",
      goVersion: "go1.24.0",
      compiler: "gc",
      platform: "linux/amd64",
    };
  }
  if (path === "/api") {
    return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }] };
  }
  if (path === "/apis") {
    const names = [...groups.keys()].filter((g) => g !== "");
    return { kind: "APIGroupList", apiVersion: "v1", groups: names.map(groupEntry) };
  }
  const groupMatch = /^\/apis\/([^/]+)$/.exec(path);
  if (groupMatch?.[1] !== undefined) {
    return groups.has(groupMatch[1]) ? { kind: "APIGroup", apiVersion: "v1", ...groupEntry(groupMatch[1]) } : undefined;
  }
  const gv = /^\/api\/(v1)$/.exec(path) ?? /^\/apis\/([^/]+\/[^/]+)$/.exec(path);
  if (gv?.[1] !== undefined) {
    const groupVersion = gv[1];
    const [group, version] = groupVersion.includes("/") ? (groupVersion.split("/") as [string, string]) : ["", groupVersion];
    const served = registry.all.filter((r) => r.group === group && r.version === version);
    if (served.length === 0) return undefined;
    const resources = served.flatMap((r) => {
      const main = {
        name: r.plural,
        singularName: r.singular,
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: r.verbs,
        ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
        ...(r.categories.length > 0 ? { categories: r.categories } : {}),
      };
      const status = { name: `${r.plural}/status`, singularName: "", namespaced: r.namespaced, kind: r.kind, verbs: ["get", "patch", "update"] };
      return r.statusSubresource ? [main, status] : [main];
    });
    return { kind: "APIResourceList", apiVersion: "v1", groupVersion, resources };
  }
  return undefined;
}
