// Durations in the Kubernetes style ("90s", "5m", "1h30m"), parsed in this one place.
//
// The accepted grammar is a strict subset of Go's time.ParseDuration: whole hours,
// minutes and seconds, in that order. The same grammar is the CRD's `pattern` (RE2,
// so no look-ahead: `minLength: 2` rules out the empty string) and the CEL rules use
// Kubernetes' `duration()` on it, so the API server and this parser always agree.
// A general duration library would accept more ("1.5h", "1 hour") than the CRD does.

export const DURATION_PATTERN = "^([0-9]+h)?([0-9]+m)?([0-9]+s)?$";
export const DURATION_MIN_LENGTH = 2;
/** Long enough for "24h0m0s"-style spellings, short enough that no value overflows. */
export const DURATION_MAX_LENGTH = 12;

const durationRegExp = new RegExp(DURATION_PATTERN);

/** Seconds in a duration string, or undefined when it is not in the accepted grammar. */
export function parseDurationSeconds(text: string): number | undefined {
  if (text.length < DURATION_MIN_LENGTH || text.length > DURATION_MAX_LENGTH) return undefined;
  const match = durationRegExp.exec(text);
  if (!match) return undefined;
  const [, h, m, s] = match;
  return unitValue(h) * 3600 + unitValue(m) * 60 + unitValue(s);
}

function unitValue(part: string | undefined): number {
  return part === undefined ? 0 : Number.parseInt(part.slice(0, -1), 10);
}

/** The shortest spelling in the same grammar: 5400 -> "1h30m", 0 -> "0s". */
export function formatDuration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.round(totalSeconds));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const text = `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s ? `${s}s` : ""}`;
  return text === "" ? "0s" : text;
}
