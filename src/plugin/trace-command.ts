// `kubectl droptrace trace [NAME]`: create a DropTrace from flags, follow it, print the result.
import { DROPTRACE, GROUP } from "../api/constants.js";
import { followToEnd, liveStream } from "./follow-to-end.js";
import { connect } from "./client.js";
import type { GlobalFlags, PluginIo } from "./io.js";
import { traceSpec, type TraceFlags } from "./spec-flags.js";

/** The prefix of a generated name: the API server adds five random characters. */
export const GENERATED_NAME_PREFIX = "droptrace-";

export async function traceCommand(name: string | undefined, flags: TraceFlags & GlobalFlags & { rm: boolean }, io: PluginIo): Promise<number> {
  const spec = traceSpec(flags);
  const client = connect(flags);
  const created = await client.create(name === undefined ? { generateName: GENERATED_NAME_PREFIX } : { name }, spec);
  const traceName = created.metadata.name;
  liveStream(flags.output, io).write(`${DROPTRACE.singular}.${GROUP}/${traceName} created\n`);
  return followToEnd(client, traceName, flags.output, io, { rm: flags.rm });
}
