// Whose a status row is, beyond its workload. A status row is keyed by its workload where it has
// one (rows.ts statusRowKey), so the workload always agrees; it may still sum several pods of that
// workload, on one node or several, and, once sockets are reported, rows attributed in more than
// one way. A status row says what every row summed into it says, field by field, and leaves out a
// field they disagree on: eth0 drops of two pods of Deployment `cart` name the Deployment and no pod.
import { ATTRIBUTIONS, type Attribution, type PodRef } from "../../api/attribution.js";

export interface RowOwner {
  attribution?: Attribution | undefined;
  pod?: PodRef | undefined;
}

/** Each field as all rows so far agree on it; `null` once two rows disagreed. */
export interface OwnerAgreement {
  attribution: Attribution | undefined | null;
  pod: PodRef | undefined | null;
}

/**
 * A row's owner as an agreement of one; undefined for a row that names no one, which is most
 * rows of a large cluster's reports (or all, from agents older than attribution): no object for them.
 */
export function ownerOf(row: RowOwner): OwnerAgreement | undefined {
  if (row.attribution === undefined && row.pod === undefined) return undefined;
  // Rows no pod owns (host, unknown) share one object per attribution: a cluster's reports hold hundreds of thousands.
  if (row.pod === undefined && row.attribution !== undefined) return PODLESS[row.attribution];
  return { attribution: row.attribution, pod: row.pod };
}

const PODLESS: Readonly<Record<Attribution, OwnerAgreement>> = Object.fromEntries(
  ATTRIBUTIONS.map((attribution) => [attribution, Object.freeze({ attribution, pod: undefined })]),
) as Record<Attribution, OwnerAgreement>;

const NO_ONE: OwnerAgreement = { attribution: undefined, pod: undefined };

const podKey = (pod: PodRef | undefined) => pod?.uid;

/** What `so far` and `next` agree on, as a new object (undefined only when neither names anyone). A row without a field disagrees with one that has it. */
export function agree(soFar: OwnerAgreement | undefined, next: OwnerAgreement | undefined): OwnerAgreement | undefined {
  if (soFar === undefined && next === undefined) return undefined;
  const a = soFar ?? NO_ONE;
  const b = next ?? NO_ONE;
  const attribution = a.attribution === null || a.attribution !== b.attribution ? null : a.attribution;
  const pod = a.pod === null || b.pod === null || podKey(a.pod) !== podKey(b.pod) ? null : a.pod;
  // Most merges change nothing (a million rows at 5,000 nodes): no new object for them. Agreements are never changed in place.
  if (soFar !== undefined && attribution === soFar.attribution && pod === soFar.pod) return soFar;
  return { attribution, pod };
}

/** The fields every row agreed on, ready to spread into a status row. */
export function agreedOwner(agreement: OwnerAgreement | undefined): RowOwner {
  if (agreement === undefined) return {};
  return {
    ...(agreement.attribution === null || agreement.attribution === undefined ? {} : { attribution: agreement.attribution }),
    ...(agreement.pod === null || agreement.pod === undefined ? {} : { pod: agreement.pod }),
  };
}
