// The simple JSONPath of a CRD's additionalPrinterColumns (`.status.phase`, `.spec.items[0].name`,
// `.metadata.labels['app.kubernetes.io/name']`), evaluated with missing keys allowed, as the CRD
// table convertor evaluates it with client-go's jsonpath. Filters, wildcards and ranges are not
// understood: such a column prints nothing (the real server would print the first match).

type Step = { key: string } | { index: number };

/** The steps of a simple path, or undefined when it is not one this parser understands. */
export function parseSimplePath(path: string): Step[] | undefined {
  const steps: Step[] = [];
  let i = 0;
  if (!path.startsWith(".")) return undefined;
  while (i < path.length) {
    const ch = path[i];
    if (ch === ".") {
      const m = /^\.([^.[\]]+)/.exec(path.slice(i));
      if (m?.[1] === undefined) return undefined;
      steps.push({ key: m[1] });
      i += m[0].length;
    } else if (ch === "[") {
      const rest = path.slice(i);
      const quoted = /^\[\s*(['"])(.*?)\1\s*\]/.exec(rest);
      const index = /^\[\s*(\d+)\s*\]/.exec(rest);
      if (quoted?.[2] !== undefined) {
        steps.push({ key: quoted[2] });
        i += quoted[0].length;
      } else if (index?.[1] !== undefined) {
        steps.push({ index: Number(index[1]) });
        i += index[0].length;
      } else return undefined;
    } else return undefined;
  }
  return steps;
}

/** The value at the path, or undefined when some step is missing. */
export function evaluateSimplePath(obj: unknown, path: string): unknown {
  const steps = parseSimplePath(path);
  if (steps === undefined) return undefined;
  let node: unknown = obj;
  for (const step of steps) {
    if ("key" in step) {
      if (typeof node !== "object" || node === null || Array.isArray(node) || !Object.hasOwn(node, step.key)) return undefined;
      node = (node as Record<string, unknown>)[step.key];
    } else {
      if (!Array.isArray(node) || step.index >= node.length) return undefined;
      node = node[step.index];
    }
  }
  return node;
}

/** Go's json.Marshal of a decoded JSON value: object keys sorted. */
export function goJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(goJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${goJson(obj[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}
