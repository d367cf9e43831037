// The conditions of a DropTrace's status and the reasons they, its Events and its nodes give:
// part of the API, as cert-manager's pkg/apis holds its condition types. A person reads them in
// `kubectl describe dt`; alerts and scripts match on them.

export const CONDITION = {
  ready: "Ready",
  progressing: "Progressing",
  degraded: "Degraded",
} as const;

/** Condition and Event reasons: each names what happened, so a person knows where to look. */
export const REASON = {
  waitingForAgents: "WaitingForAgents",
  tracing: "Tracing",
  deadlinePassed: "DeadlinePassed",
  allNodesDone: "AllNodesDone",
  invalidSpec: "InvalidSpec",
  specChanged: "SpecChanged",
  allNodesFailed: "AllNodesFailed",
  noNodesReported: "NoNodesReported",
  noNodesSelected: "NoNodesSelected",
  nodesFailing: "NodesFailing",
  nodesNotReporting: "NodesNotReporting",
  dropsUncounted: "DropsUncounted",
  nodesHealthy: "NodesHealthy",
  noAgents: "NoAgents",
} as const;
export type Reason = (typeof REASON)[keyof typeof REASON];

/** A node whose report says it was rejected by the controller's schema. */
export const INVALID_REPORT_REASON = "InvalidReport";
