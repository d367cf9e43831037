// The explanations under `droptrace run`'s table: the top reasons, and always the row to act on.
import { describe, expect, it } from "vitest";
import { explanationLines } from "../../src/cli/explanations-text.js";
import { DROP_EXPLANATIONS, dropClass } from "../../src/api/drop-explanations.js";

const rows = (...reasons: string[]) => reasons.map((reason) => ({ reason, class: dropClass(reason) }));
/** The reasons explained, in order, from the lines that name one. */
const explainedReasons = (lines: string[]) => lines.flatMap((line) => /^([A-Z_0-9-]+) \(\w+\): /.exec(line)?.[1] ?? []);

describe("the explanations under droptrace run's table", () => {
  it("explain a reason with its class and meaning, and its next step indented under it", () => {
    expect(explanationLines(rows("NEIGH_FAILED"))).toEqual([
      "",
      "What the top reasons mean:",
      `NEIGH_FAILED (fault): ${DROP_EXPLANATIONS.NEIGH_FAILED.meaning}`,
      `  next: ${DROP_EXPLANATIONS.NEIGH_FAILED.nextStep ?? ""}`,
    ]);
  });

  it("name the first row worth acting on even when normal reasons fill the top", () => {
    const top = rows("QUEUE_PURGE", "TCP_OLD_DATA", "SOCKET_CLOSE", "TCP_CLOSE", "OTHERHOST", "TCP_OFOMERGE", "SOCKET_RCVBUFF");
    expect(explainedReasons(explanationLines(top))).toEqual(["QUEUE_PURGE", "TCP_OLD_DATA", "SOCKET_CLOSE", "TCP_CLOSE", "SOCKET_RCVBUFF"]);
  });

  it("leave out the next step where the table has none, and print nothing without rows", () => {
    expect(explanationLines(rows("TCP_OFOMERGE")).filter((line) => line.startsWith("  next:"))).toEqual([]);
    expect(explanationLines([])).toEqual([]);
  });

  it("say a reason droptrace cannot explain is unknown", () => {
    expect(explanationLines(rows("UNKNOWN_196610"))[2]).toMatch(/^UNKNOWN_196610 \(unknown\): droptrace has no explanation/);
  });
});
