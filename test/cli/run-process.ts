// `droptrace run` as its own process with the stand-in SystemTap, so a test can press Ctrl-C
// (SIGINT to this process alone) for real. Run with `node --import tsx`; RUN_TEST_CACHE_DIR names
// the module cache; the stand-ins' environment (FAKE_*) is inherited.
import { runCommand } from "../../src/cli/run.js";
import { parseRunFlags } from "../../src/cli/run-options.js";
import { loadProbeScript } from "../../src/probe/script.js";
import { FAKE_STAP, FAKE_STAPRUN, fixtureHost, moduleTableOver } from "../trace/stand-ins.js";

const settings = parseRunFlags({ duration: "1h", interface: [], reason: [], output: "table", cacheDir: process.env["RUN_TEST_CACHE_DIR"] });
process.exitCode = await runCommand(settings, {
  host: fixtureHost(),
  modules: moduleTableOver(process.env["FAKE_MODULES_FILE"] ?? ""),
  script: loadProbeScript(),
  stapCommand: FAKE_STAP,
  staprunCommand: FAKE_STAPRUN,
  stopGraceMs: 3_000,
});
