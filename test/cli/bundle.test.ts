// The bundle the images run (dist/bundle, made by `npm run build`), as a real process, from a
// copy laid out as the images lay it out (/app/dist/bundle and /app/stap, nothing else: no
// node_modules, no package.json, no src): if the bundle still needed anything from
// node_modules, or could not find the probe script, these fail as the images would.
import { cp, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { execa } from "execa";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { API_VERSION, DROPTRACE_REPORT, GROUP, VERSION } from "../../src/api/constants.js";
import { DropTraceReportSchema, type DropTraceReport } from "../../src/api/report.js";
import { BUILT, builtAgent, imageAgent, requireBuilt } from "../agent/built-agent.js";
import { FIXTURE_ROWS, fixtureIntervals, isAlive, RELEASE, StandIns } from "../trace/stand-ins.js";
import { startTestApiServer, type TestApiServer } from "../support/apiserver.js";
import { until } from "../support/until.js";

const REPO_ROOT = path.resolve(import.meta.dirname, "../..");

let scratch: string;
/** The image's /app: dist/bundle/**\/*.mjs and stap/droptrace.stp. */
let app: string;
let bundle: string;

beforeAll(async () => {
  const built = path.dirname(requireBuilt(BUILT.bundle));
  scratch = await mkdtemp(path.join(tmpdir(), "droptrace-bundle-test-"));
  app = path.join(scratch, "app");
  for (const dir of ["", "chunks"]) {
    await mkdir(path.join(app, "dist", "bundle", dir), { recursive: true });
    for (const file of await readdir(path.join(built, dir))) {
      if (file.endsWith(".mjs")) await cp(path.join(built, dir, file), path.join(app, "dist", "bundle", dir, file));
    }
  }
  await mkdir(path.join(app, "stap"));
  await cp(path.join(REPO_ROOT, "stap", "droptrace.stp"), path.join(app, "stap", "droptrace.stp"));
  bundle = path.join(app, "dist", "bundle", "droptrace.mjs");
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("the bundle on its own", () => {
  it("lists its subcommands and says its version", async () => {
    const help = await execa("node", [bundle, "--help"], { reject: false, cwd: scratch });
    expect(help.exitCode).toBe(0);
    for (const command of ["controller", "agent", "run", "compile"]) expect(help.stdout).toContain(command);
    const version = await execa("node", [bundle, "--version"], { reject: false, cwd: scratch });
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("loads the controller's code for `controller`, which then names the settings it lacks", async () => {
    const result = await execa("node", [bundle, "controller"], { reject: false, cwd: scratch, env: { PATH: process.env["PATH"] ?? "" }, extendEnv: false });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("POD_NAMESPACE");
  });
});

describe("the bundle as the agent, on the fixture's machine, against the test API server", () => {
  let server: TestApiServer;
  let standIns: StandIns;
  /** Kills the agent if a test left it running. */
  let stopAgent: (() => Promise<unknown>) | undefined;

  beforeEach(async () => {
    server = await startTestApiServer();
    standIns = await StandIns.create();
  });

  afterEach(async () => {
    await stopAgent?.();
    stopAgent = undefined;
    await server.close();
    expect(await standIns.dispose()).toEqual([]);
  });

  function report(name: string): DropTraceReport | undefined {
    const stored = server.store.get(`${GROUP}/${DROPTRACE_REPORT.plural}`, "", name);
    return stored === undefined ? undefined : DropTraceReportSchema.parse(stored);
  }

  it(
    "compiles the probe from the copy's stap/, traces, writes its report every interval and a final one, and exits 0 on SIGTERM",
    { timeout: 30_000 },
    async () => {
      const api = server.kubeConfig.makeApiClient(CustomObjectsApi);
      const created = (await api.createClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: "droptraces",
        body: { apiVersion: API_VERSION, kind: "DropTrace", metadata: { name: "dt1" }, spec: { duration: "5s" } },
      })) as { metadata: { uid: string } };
      // Two intervals, then the last one when the agent stops the probe at the end of the 5 s.
      const { first, second, last } = fixtureIntervals();
      await standIns.staprun({ steps: [{ sleepMs: 100 }, { out: first }, { sleepMs: 300 }, { out: second }], onSigint: [{ out: last }, { exit: 0 }] });
      // Started as the agent image starts it: its ENTRYPOINT's node flags and its ENV. Node 20
      // warns of url.parse() only with --pending-deprecation, Node 24 (the image's) always: with
      // it, this Node says what the image's would, and the ENTRYPOINT must keep that out of the log.
      const image = imageAgent();
      const command = await builtAgent({
        entry: bundle,
        nodeFlags: ["--pending-deprecation", ...image.nodeFlags],
        env: image.env,
        standIns,
        kubeConfig: server.kubeConfig,
        trace: { name: "dt1", uid: created.metadata.uid, duration: "5s" },
      });
      const agent = execa(command.file, command.args, { env: command.env, extendEnv: false, reject: false, cwd: scratch });
      stopAgent = () => {
        if (agent.pid !== undefined && isAlive(agent.pid)) agent.kill("SIGKILL");
        return agent;
      };

      const midway = await until(
        "two intervals reported",
        () => (report("dt1-fixture-node")?.status?.intervals === 2 ? report("dt1-fixture-node") : undefined),
        { timeoutMs: 15_000 },
      );
      expect(midway.status).toMatchObject({ phase: "Running", totalDrops: 511 });
      const final = await until(
        "the final report",
        () => (report("dt1-fixture-node")?.status?.phase === "Completed" ? report("dt1-fixture-node") : undefined),
        { timeoutMs: 15_000 },
      );
      expect(final.status).toMatchObject({ phase: "Completed", kernelRelease: RELEASE, intervals: 3, totalDrops: 551, uncountedDrops: 0, rows: FIXTURE_ROWS });
      expect(final.status?.probe).toMatchObject({ cacheHit: false });

      // The stand-in stap compiled the script the bundle found above itself, as /app/stap in the image.
      expect(standIns.compiles().map((c) => c.argv?.at(-1))).toEqual([path.join(app, "stap", "droptrace.stp")]);
      expect(standIns.loadedModules()).toEqual([]);

      agent.kill("SIGTERM");
      const exited = await agent;
      expect(exited.exitCode).toBe(0);
      // Its log is pino's JSON lines, from the bundled pino, and nothing else (no warning text from Node).
      const lines = exited.stderr.split("\n").filter((line) => line !== "");
      expect(lines.filter((line) => !/^\{.*\}$/.test(line))).toEqual([]);
      expect(lines.filter((line) => line.includes('"msg":"trace finished"'))).toHaveLength(1);
    },
  );
});
