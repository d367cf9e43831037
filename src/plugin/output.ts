// -o json and -o yaml: the data the table shows, for scripts.
import { stringify } from "yaml";
import type { OutputFormat } from "./io.js";

export function formatData(data: unknown, format: Exclude<OutputFormat, "table">): string {
  return format === "json" ? `${JSON.stringify(data, null, 2)}\n` : stringify(data);
}
