// filter.namespaces and filter.podSelector, applied by the agent to its report's rows once they
// are named. The probe cannot apply them (it knows network namespaces, not pods), and applying
// them before names are known would lose counts: so every report filters the cumulative rows
// anew, a row named late is kept from then on, and what is left out is counted in the report's
// `filteredDrops`, never dropped silently.
import type { DropFilter } from "../api/droptrace.js";
import { selectorMatches, type LabelSelector } from "../api/kubernetes.js";
import type { DropTraceReportStatus, ReportRow } from "../api/report.js";

export interface PodFilter {
  namespaces?: readonly string[];
  podSelector?: LabelSelector;
}

/** The pod part of a trace's filter; undefined when it has none, so rows are left as they are. */
export function podFilterOf(filter: DropFilter | undefined): PodFilter | undefined {
  if (filter?.namespaces === undefined && filter?.podSelector === undefined) return undefined;
  return {
    ...(filter.namespaces === undefined ? {} : { namespaces: filter.namespaces }),
    ...(filter.podSelector === undefined ? {} : { podSelector: filter.podSelector }),
  };
}

/** A pod's labels by UID; undefined when the pod is not known (any more). */
export type PodLabels = (uid: string) => Readonly<Record<string, string>> | undefined;

/**
 * Whether a row is kept. A row no pod owns (host, unknown, or not named yet) never is: the filters
 * select pods. A row whose pod's labels are no longer known was named before this agent restarted
 * and kept then (a pod the agent names now is always among the pods it lists), so it stays.
 */
export function keepsRow(filter: PodFilter, row: ReportRow, labelsOf: PodLabels): boolean {
  const pod = row.pod;
  if (pod === undefined) return false;
  if (filter.namespaces !== undefined && !filter.namespaces.includes(pod.namespace)) return false;
  if (filter.podSelector === undefined) return true;
  const labels = labelsOf(pod.uid);
  return labels === undefined || selectorMatches(filter.podSelector, labels);
}

/** The status with only the rows the filter keeps; the rest leave totalDrops for filteredDrops. */
export function filterStatus(status: DropTraceReportStatus, filter: PodFilter, labelsOf: PodLabels): DropTraceReportStatus {
  let filtered = 0;
  const rows = status.rows.filter((row) => {
    const kept = keepsRow(filter, row, labelsOf);
    if (!kept) filtered += row.count;
    return kept;
  });
  return { ...status, rows, totalDrops: Math.max(0, status.totalDrops - filtered), filteredDrops: (status.filteredDrops ?? 0) + filtered };
}
