// The agent's resident memory while tracing inside the agent image itself, run by podman: its own
// node, /app/dist/bundle, ENTRYPOINT and ENV. Prints numbers, asserts nothing.
//
//   npm run test:image      # builds localhost/droptrace-agent:<version>
//   npm run build && npx tsx bench/agent/memory/image.ts --image localhost/droptrace-agent:0.1.0   # as root
//   ... --repeat 2 --env MALLOC_ARENA_MAX=2   # more runs; more environment for the container
//   ... --kallsyms tiny                        # what-if: kallsyms of the fixture's drop sites only
//
// It differs from ./agent.ts only in the node that runs the bundle: the image's is Debian's
// nodejs, linked against the system's ICU, OpenSSL and libuv, so more of it is file-backed RSS.
// The container gets host networking and host PIDs, so that the test API server, the stand-in
// staprun (mounted read-only from test/trace/fakes) and /proc/<pid>/status work as without it;
// the sampled PID is the host PID of the container's node. Run as root, as test/image/test-image.sh
// runs podman; `npm run build` is still needed, for the stand-in machine the agent is given.
//
// The numbers mean what ./agent.ts's do; compare its steady state with this one's to see what
// the image's node costs (about 120 MiB against 79 when README.md was last measured).
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { FAKES_DIR } from "../../../test/trace/stand-ins.js";
import { asImage, benchSession, measureRepeatedly, parseFlags, RUN_OPTIONS, RunSettingsSchema, TWEAK_OPTIONS, TweakSchema, type Launcher } from "./common.js";

const { values } = parseArgs({ options: { ...RUN_OPTIONS, ...TWEAK_OPTIONS, image: { type: "string" } } });
const flags = parseFlags(
  RunSettingsSchema.extend(TweakSchema.shape).extend({ image: z.string({ error: "--image names the agent image, e.g. localhost/droptrace-agent:0.1.0" }) }),
  values,
);

const PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"];

/** As test/image/test-image.sh runs podman here: runc cannot apply podman's default rlimits in this kind of sandbox. */
function podmanEnv(scratch: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  if (env["CONTAINERS_CONF"] === undefined) {
    env["CONTAINERS_CONF"] = path.join(scratch, "containers.conf");
    writeFileSync(env["CONTAINERS_CONF"], "[containers]\ndefault_ulimits = []\n");
  }
  return env;
}

/** The agent as the image starts it, with the preloads through NODE_OPTIONS; resolves the host PID of its node. */
const inImage: Launcher = (agent, scratch) => {
  const name = `droptrace-memory-bench-${String(process.pid)}-${String(Date.now())}`;
  // The image's own PATH after the stand-ins' directory; everything else from the image.
  const ownEnv = { ...agent.ownEnv, PATH: `${FAKES_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` };
  const envArgs = Object.entries(ownEnv).flatMap(([key, value]) => ["--env", `${key}=${value}`]);
  const nodeOptions = agent.preloads.map((p) => `--import ${p}`).join(" ");
  const tmp = os.tmpdir();
  const child = spawn(
    PODMAN[0] ?? "podman",
    [
      ...PODMAN.slice(1),
      "run",
      "--rm",
      "--name",
      name,
      "--network",
      "host",
      "--pid",
      "host",
      "--volume",
      `${tmp}:${tmp}`,
      "--volume",
      `${FAKES_DIR}:${FAKES_DIR}:ro`,
      ...envArgs,
      "--env",
      `NODE_OPTIONS=${nodeOptions}`,
      flags.image,
      "agent",
    ],
    { env: podmanEnv(scratch), stdio: ["ignore", "ignore", "pipe"] },
  );
  const pid = (async () => {
    for (let attempt = 0; attempt < 300; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (child.exitCode !== null) break;
      const inspect = spawnSync(PODMAN[0] ?? "podman", [...PODMAN.slice(1), "inspect", "--format", "{{.State.Pid}}", name], {
        env: podmanEnv(scratch),
        encoding: "utf8",
      });
      const found = Number(inspect.stdout.trim());
      if (inspect.status === 0 && found > 0) return found;
    }
    throw new Error(`the agent's container ${name} did not start: podman exited ${String(child.exitCode)}`);
  })();
  return { child, pid };
};

function measuredImage(): string {
  const inspect = spawnSync(
    PODMAN[0] ?? "podman",
    [...PODMAN.slice(1), "image", "inspect", "--format", '{{.Created}} {{index .Config.Labels "org.opencontainers.image.revision"}}', flags.image],
    { encoding: "utf8" },
  );
  if (inspect.status !== 0) throw new Error(`podman has no image ${flags.image}: build it with \`npm run test:image\` (${inspect.stderr.trim()})`);
  return `measured: the image ${flags.image} (created ${inspect.stdout.trim()}), its own node, ENTRYPOINT and ENV, run by podman`;
}

await benchSession(flags, measuredImage, async (prepared, image) => {
  const variant = { ...asImage(image), env: { ...image.env, ...flags.env }, kallsyms: flags.kallsyms };
  const extraEnv = Object.entries(flags.env).map(([k, v]) => `${k}=${v}`);
  console.log(`agent: podman run ${flags.image} agent (kallsyms: ${variant.kallsyms}${extraEnv.length > 0 ? `; --env ${extraEnv.join(" ")}` : ""})`);
  await measureRepeatedly(prepared, variant, { launch: inImage });
});
