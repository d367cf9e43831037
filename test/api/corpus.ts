// Loads the agreement corpus: YAML documents under test/api/corpus/, each one case.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { z } from "zod";

const Verdict = z.enum(["valid", "invalid"]);

export const CorpusCaseSchema = z
  .strictObject({
    case: z.string().min(1),
    kind: z.enum(["DropTrace", "DropTraceReport"]).default("DropTrace"),
    expect: Verdict.optional(),
    /** A documented split between the two validators; the case text says why. */
    crd: Verdict.optional(),
    zod: Verdict.optional(),
    /** For invalid cases: each validator that refuses must name this field or one below it. */
    field: z.string().optional(),
    old: z.record(z.string(), z.unknown()).optional(),
    object: z.record(z.string(), z.unknown()),
    /** For valid cases: the spec both validators must produce once defaults are applied. */
    defaulted: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((c) => (c.expect !== undefined) !== (c.crd !== undefined && c.zod !== undefined), {
    message: "a case has either `expect` or both `crd` and `zod`",
  })
  .refine((c) => c.expect === "valid" || c.field !== undefined, { message: "an invalid case names its `field`" });
export type CorpusCase = z.infer<typeof CorpusCaseSchema>;

export const CORPUS_DIR = path.join(import.meta.dirname, "corpus");

export function loadCorpus(dir = CORPUS_DIR): CorpusCase[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith(".yaml"))
    .sort()
    .flatMap((file) =>
      parseAllDocuments(readFileSync(path.join(dir, file), "utf8")).map((doc, index) => {
        if (doc.errors.length > 0) throw new Error(`${file} document ${index}: ${doc.errors[0]?.message ?? "bad YAML"}`);
        const parsed = CorpusCaseSchema.safeParse(doc.toJS());
        if (!parsed.success) throw new Error(`${file} document ${index}: ${parsed.error.message}`);
        return parsed.data;
      }),
    );
}

export function expectedVerdicts(c: CorpusCase): { crd: "valid" | "invalid"; zod: "valid" | "invalid" } {
  if (c.expect !== undefined) return { crd: c.expect, zod: c.expect };
  return { crd: c.crd ?? "invalid", zod: c.zod ?? "invalid" };
}
