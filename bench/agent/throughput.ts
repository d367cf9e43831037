// Rows per second through the agent's hot path (stdout chunks -> records -> symbolize ->
// accumulate) on one core, plus the cost of loading kallsyms. Prints numbers, asserts nothing.
//
//   npx tsx bench/agent/throughput.ts
//
// The data is the fixture kernel's own: its kallsyms, its reason numbers, its four drop sites
// plus real networking functions of that kernel, spread over a few thousand distinct keys
// and printed interval after interval as the probe does, in pipe-sized chunks.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { gunzipSync } from "node:zlib";
import { DropAccumulator } from "../../src/trace/accumulator.js";
import { parseKfreeSkbFormat } from "../../src/trace/kernel-reasons.js";
import { dropKeys, random } from "./workload.js";
import { parseKallsyms } from "../../src/trace/kallsyms.js";
import { ProbeOutputReader } from "../../src/probe/output.js";

const repoRoot = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
const fixtureDir = path.resolve(repoRoot, "../shared/fixtures/kernel-7.2-udp-neigh");

const DISTINCT_KEYS = 3000;
const ROWS_PER_INTERVAL = 1500;
const INTERVALS = 400;
const CHUNK_BYTES = 64 * 1024;
const ROUNDS = 5;

// A full collection before each memory reading, so the numbers are live data, not garbage.
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

// "heap" is the JS heap plus ArrayBuffers: the kallsyms table lives in typed arrays, off the JS heap.
function memory(): { heapMiB: string; rssMiB: string } {
  // Twice: Buffers' memory is released by the collection after the one that finds them dead.
  collectGarbage();
  collectGarbage();
  const usage = process.memoryUsage();
  return {
    heapMiB: ((usage.heapUsed + usage.arrayBuffers) / 2 ** 20).toFixed(1),
    rssMiB: (usage.rss / 2 ** 20).toFixed(1),
  };
}

const before = memory();

const readStart = performance.now();
const kallsymsText = gunzipSync(readFileSync(path.join(fixtureDir, "kallsyms.txt.gz"))).toString("utf8");
const readMs = performance.now() - readStart;
const kallsymsLines = kallsymsText.split("\n").length - 1;

const loadTimes: number[] = [];
for (let i = 0; i < ROUNDS; i += 1) {
  const start = performance.now();
  parseKallsyms(kallsymsText);
  loadTimes.push(performance.now() - start);
}
const withText = memory();
const kallsyms = parseKallsyms(kallsymsText);
const afterKallsyms = memory();
const reasons = parseKfreeSkbFormat(readFileSync(path.join(fixtureDir, "kfree_skb.format"), "utf8"));

// Drop keys from the fixture kernel's networking functions (workload.ts).
const next = random(42);
const keyTuples = dropKeys(kallsymsText, reasons, DISTINCT_KEYS, next);
const keys = keyTuples.map((key) => key.join("\t"));
const dropSites = new Set(keyTuples.map(([location]) => location)).size;

const lines: string[] = [];
let expectedTotal = 0;
let expectedUncounted = 0;
for (let seq = 1; seq <= INTERVALS; seq += 1) {
  const start = Math.floor(next() * keys.length);
  for (let i = 0; i < ROWS_PER_INTERVAL; i += 1) {
    const count = 1 + Math.floor(next() * 50);
    expectedTotal += count;
    lines.push(`R\t${count}\t${keys[(start + i) % keys.length] ?? ""}`);
  }
  const overflow = seq % 50 === 0 ? 17 : 0;
  expectedUncounted += overflow;
  lines.push(`I\t${seq}\t${ROWS_PER_INTERVAL}\t${overflow}`);
}
lines.push(`E\t${INTERVALS}`);
const stdout = Buffer.from(`${lines.join("\n")}\n`, "utf8");
const chunks: Buffer[] = [];
for (let at = 0; at < stdout.length; at += CHUNK_BYTES) chunks.push(stdout.subarray(at, at + CHUNK_BYTES));
const rowCount = INTERVALS * ROWS_PER_INTERVAL;

function parseOnly(): number {
  const reader = new ProbeOutputReader();
  let records = 0;
  for (const chunk of chunks) records += reader.push(chunk).length;
  return records + reader.end().length;
}

function pipeline(): DropAccumulator {
  const reader = new ProbeOutputReader();
  const accumulator = new DropAccumulator(kallsyms, reasons);
  for (const chunk of chunks) {
    for (const result of reader.push(chunk)) {
      if (result.ok) accumulator.add(result.record);
      else accumulator.noteProtocolError(result.error.message);
    }
  }
  for (const result of reader.end()) {
    if (result.ok) accumulator.add(result.record);
    else accumulator.noteProtocolError(result.error.message);
  }
  return accumulator;
}

function rate(run: () => unknown): { rowsPerSecond: number; ms: number } {
  const start = performance.now();
  run();
  const ms = performance.now() - start;
  return { rowsPerSecond: Math.round(rowCount / (ms / 1000)), ms };
}

const parseRates = Array.from({ length: ROUNDS }, () => rate(parseOnly));
const pipelineRates = Array.from({ length: ROUNDS }, () => rate(pipeline));
const beforeAccumulator = memory();
const accumulator = pipeline();
const afterAccumulator = memory();
const snapshotStart = performance.now();
const snapshot = accumulator.snapshot(1000);
const snapshotMs = performance.now() - snapshotStart;

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const fmt = (n: number): string => n.toLocaleString("en-US", { maximumFractionDigits: 1 });

console.log(`node ${process.version}, one core`);
console.log(`kallsyms: ${fmt(kallsymsLines)} lines, ${fmt(kallsymsText.length / 2 ** 20)} MiB; read+gunzip ${fmt(readMs)} ms`);
console.log(
  `kallsyms load (parseKallsyms): first ${fmt(loadTimes[0] ?? 0)} ms, median ${fmt(median(loadTimes))} ms ` +
    `(${fmt(kallsyms.symbolCount)} code symbols, ${kallsyms.moduleNames.length} modules incl. kernel)`,
);
console.log(
  `memory (JS heap + ArrayBuffers): at start ${before.heapMiB} MiB; with the kallsyms text ${withText.heapMiB} MiB; ` +
    `with the table as well ${afterKallsyms.heapMiB} MiB (the table alone: ${fmt(kallsyms.byteLength / 2 ** 20)} MiB); ` +
    `rss ${before.rssMiB} -> ${withText.rssMiB} -> ${afterKallsyms.rssMiB} MiB`,
);
console.log(
  `workload: ${fmt(rowCount)} rows in ${INTERVALS} intervals, ${fmt(accumulator.keyCount)} distinct keys, ` +
    `${dropSites} drop sites, ${fmt(stdout.length / 2 ** 20)} MiB of stdout in ${chunks.length} chunks of ${CHUNK_BYTES / 1024} KiB`,
);
console.log(`parse only (split + zod):      ${parseRates.map((r) => fmt(r.rowsPerSecond)).join(", ")} rows/s`);
console.log(`parse -> symbolize -> accumulate: ${pipelineRates.map((r) => fmt(r.rowsPerSecond)).join(", ")} rows/s`);
console.log(`  median ${fmt(median(pipelineRates.map((r) => r.rowsPerSecond)))} rows/s (goal 200,000)`);
console.log(
  `accumulator of ${fmt(accumulator.keyCount)} keys: heap ${beforeAccumulator.heapMiB} -> ${afterAccumulator.heapMiB} MiB ` +
    `(the bench's own stdout data included), rss ${afterAccumulator.rssMiB} MiB; ` +
    `snapshot(1000) of ${fmt(accumulator.keyCount)} keys ${fmt(snapshotMs)} ms`,
);
console.log(
  `check: total ${fmt(snapshot.total)} (generated ${fmt(expectedTotal)}), uncounted ${fmt(snapshot.uncounted)} ` +
    `(generated ${fmt(expectedUncounted)}), intervals ${snapshot.intervals}, protocol errors ${snapshot.protocolErrors}, ` +
    `other rows ${fmt(snapshot.otherRows)}`,
);
console.log(`top row: ${JSON.stringify(snapshot.rows[0])}`);
