// The walkthrough's record: each step's commands as a user types them and what they printed,
// and the README's console blocks they must match.
//
// The README holds each step between `<!-- walkthrough:<step> -->` and `<!-- /walkthrough -->`
// around a ```console block. The test compares them after normalize(), which hides only what
// differs between two honest runs (ages, timestamps, uids, resourceVersions, ports);
// DROPTRACE_UPDATE_README=1 rewrites the blocks from this run instead.
import { execa } from "execa";

export interface Command {
  /** as the README shows it */
  shown: string;
  output: string;
}

export class Transcript {
  readonly steps = new Map<string, Command[]>();

  add(step: string, shown: string, output: string): void {
    const commands = this.steps.get(step) ?? [];
    commands.push({ shown, output: output.replace(/\n+$/, "") });
    this.steps.set(step, commands);
  }

  /**
   * Runs `file args` (env added to this process's), records it under `step` as `shown`
   * (default: the command itself) and returns its output. A non-zero exit fails the step
   * unless `allowFailure`.
   */
  async run(
    step: string,
    file: string,
    args: string[],
    opts: { shown?: string; env?: Record<string, string>; allowFailure?: boolean; input?: string } = {},
  ): Promise<string> {
    const result = await execa(file, args, { reject: false, all: true, env: opts.env ?? {}, ...(opts.input === undefined ? {} : { input: opts.input }) });
    const shown = opts.shown ?? [file, ...args].join(" ");
    if (result.exitCode !== 0 && opts.allowFailure !== true) {
      throw new Error(`walkthrough step ${step}: \`${shown}\` exited ${String(result.exitCode)}:\n${result.all}`);
    }
    this.add(step, shown, result.all);
    return result.all;
  }

  /** One step's console block, as the README holds it. */
  block(step: string): string {
    const commands = this.steps.get(step) ?? [];
    return commands.map((c) => (c.output === "" ? `$ ${c.shown}` : `$ ${c.shown}\n${c.output}`)).join("\n") + "\n";
  }
}

const BLOCK = /<!-- walkthrough:([a-z0-9-]+) -->\n```console\n([\s\S]*?)```\n<!-- \/walkthrough -->/g;

/** The README's walkthrough blocks, by step. */
export function readmeBlocks(readme: string): Map<string, string> {
  return new Map([...readme.matchAll(BLOCK)].map((m) => [m[1] ?? "", m[2] ?? ""]));
}

/** The README with each step's block replaced by this run's. */
export function rewriteReadme(readme: string, transcript: Transcript): string {
  return readme.replaceAll(BLOCK, (whole, step: string) =>
    transcript.steps.has(step) ? `<!-- walkthrough:${step} -->\n\`\`\`console\n${transcript.block(step)}\`\`\`\n<!-- /walkthrough -->` : whole,
  );
}

/**
 * Hides what two honest runs print differently: ages and durations kubectl computes from the
 * clock (`12s`, `2m5s`, `<invalid>`), timestamps, uids, resourceVersions, ports, and the
 * seconds a compile took.
 */
export function normalize(text: string): string {
  return (
    text
      .replaceAll(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<time>")
      .replaceAll(/\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}/g, "<time>")
      .replaceAll(/\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}/g, "<time>")
      .replaceAll(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<uid>")
      .replaceAll(/(Resource Version:\s+)\d+/g, "$1<rv>")
      .replaceAll(/(resourceVersion: ")\d+/g, "$1<rv>")
      .replaceAll(/\b\d+(\.\d+)?(ms|s|m|h|d)(\d+(s|m|h))?\b/g, "<age>")
      .replaceAll(/(localhost|127\.0\.0\.1):\d+/g, "$1:<port>")
      .replaceAll(/(droptrace_\w+_seconds\w*(\{[^}]*\})?) [\d.e+-]+/g, "$1 <seconds>")
      .replaceAll(/(Compile Seconds:\s+)[\d.]+/g, "$1<seconds>")
      // Report writes coalesce while one is in flight, so how many it took depends on timing.
      .replaceAll(/(droptrace_agent_report_writes_total\{[^}]*\}) \d+/g, "$1 <writes>")
      .replaceAll(/[ \t]+$/gm, "")
      .replaceAll(/ {2,}/g, "  ")
  );
}
