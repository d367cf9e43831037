// Names and label values of the objects droptrace creates. Kubernetes caps names at
// 253 characters and label values at 63, while trace and node names may be longer:
// too-long names are cut and end in a hash of the full name, so they stay unique.
import { createHash } from "node:crypto";

const HASH_LENGTH = 10;
const LABEL_VALUE_MAX = 63;
const NAME_MAX = 253;

export function shortenName(full: string, max: number): string {
  if (full.length <= max) return full;
  const hash = createHash("sha256").update(full).digest("hex").slice(0, HASH_LENGTH);
  const head = full.slice(0, max - HASH_LENGTH - 1).replace(/[-.]+$/, "");
  return `${head}-${hash}`;
}

/** The DaemonSet that runs one trace's agents; short enough to be a label value too. */
export function daemonSetName(trace: string): string {
  return shortenName(`droptrace-${trace}`, LABEL_VALUE_MAX);
}

/** The report one node writes for one trace. */
export function reportName(trace: string, node: string): string {
  return shortenName(`${trace}-${node}`, NAME_MAX);
}

/** A trace or node name as a label value. */
export function labelValue(name: string): string {
  return shortenName(name, LABEL_VALUE_MAX);
}
