// The conditions of a DropTrace's status and the reasons they, its Events and its nodes give:
// part of the API, as cert-manager's pkg/apis holds its condition types. A person reads them in
// `kubectl describe dt`; alerts and scripts match on them.

export const CONDITION = {
  ready: "Ready",
  progressing: "Progressing",
  degraded: "Degraded",
  /** Whether the rows hold every drop the kernel's own counters counted (status.kernelCounters). */
  dropsVisible: "DropsVisible",
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
  /** The API server refused the agents' DaemonSet (admission, RBAC): nothing can run. */
  agentsRefused: "AgentsRefused",
  /** Creating or replacing the agents' DaemonSet failed with a server error or no answer: retried. */
  waitingForApiServer: "WaitingForAPIServer",
  /** The DaemonSet controller may not create agent pods (Pod Security admission, a policy engine, a quota). */
  agentPodsRefused: "AgentPodsRefused",
  /** Agent pods cannot pull their image. */
  agentImagePullFailed: "AgentImagePullFailed",
  /** Agent pods cannot be scheduled (insufficient CPU or memory on the node). */
  agentsUnschedulable: "AgentsUnschedulable",
  /** The agent container keeps crashing before its first report. */
  agentsCrashing: "AgentsCrashing",
  /** DropsVisible: no node's counters read yet, or none could be. */
  countersNotRead: "CountersNotRead",
  /** DropsVisible: the kernel counted drops where the probe cannot see them (the NIC or its driver). */
  dropsUnseen: "DropsUnseen",
  /** DropsVisible: a counter and the rows that count the same drops disagree on a node. */
  countersDiffer: "CountersDiffer",
  /**
   * A node's probe stopped itself early because its handler time passed spec.maxProbeCPUPercent (or
   * SystemTap's own overload threshold): the node completed with its counts so far. Degraded says so.
   */
  probeOverload: "ProbeOverload",
  /**
   * Event only: flows in status whose addresses the controller could not name, because its watch of
   * pods, Services or nodes fails (RBAC, the API server): the flows are kept, by address.
   */
  flowAddressesUnnamed: "FlowAddressesUnnamed",
  /** DropsVisible: every check agrees and nothing was counted out of the probe's sight. */
  countersAgree: "CountersAgree",
} as const;
export type Reason = (typeof REASON)[keyof typeof REASON];

/** A node whose report says it was rejected by the controller's schema. */
export const INVALID_REPORT_REASON = "InvalidReport";
