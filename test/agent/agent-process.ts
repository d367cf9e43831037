// `droptrace agent` as its own process, wired to the stand-in SystemTap and the test API server,
// so a test can kill it (SIGKILL: a crashed or evicted pod) or stop it (SIGTERM) for real.
// Run with `node --import tsx`; DROPTRACE_TEST_AGENT holds {settings, apiUrl}; the
// stand-ins' environment (FAKE_*) is inherited.
import { KubeConfig } from "@kubernetes/client-node";
import { reportApi } from "../../src/agent/api-requests.js";
import { runAgent } from "../../src/agent/agent.js";
import type { AgentSettings } from "../../src/agent/settings.js";
import { silentLogger } from "../../src/cli/log.js";
import { loadProbeScript } from "../../src/probe/script.js";
import { FAKE_STAP, FAKE_STAPRUN, fixtureHost, moduleTableOver } from "../trace/stand-ins.js";

interface Config {
  settings: AgentSettings;
  apiUrl: string;
}

const config = JSON.parse(process.env["DROPTRACE_TEST_AGENT"] ?? "") as Config;
const kubeConfig = new KubeConfig();
kubeConfig.loadFromOptions({
  clusters: [{ name: "test", server: config.apiUrl, skipTLSVerify: true }],
  users: [{ name: "test", token: "test-token" }],
  contexts: [{ name: "test", cluster: "test", user: "test" }],
  currentContext: "test",
});
const controller = new AbortController();
// `on`, not `once`, as agentCommand does: execa's exit hook (signal-exit) re-raises a signal
// that no other listener is left to handle, which would kill the agent before its final report.
process.on("SIGTERM", () => {
  controller.abort();
});
process.exitCode = await runAgent(config.settings, {
  api: reportApi(kubeConfig),
  log: silentLogger,
  backoff: { initialMs: 20, maxMs: 200 },
  signal: controller.signal,
  trace: {
    host: fixtureHost(),
    modules: moduleTableOver(process.env["FAKE_MODULES_FILE"] ?? ""),
    script: loadProbeScript(),
    stapCommand: FAKE_STAP,
    staprunCommand: FAKE_STAPRUN,
    stopGraceMs: 3_000,
  },
});
