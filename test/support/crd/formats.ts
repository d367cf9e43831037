// The string formats a CRD schema may name, checked the way the API server's strfmt registry does.
// Formats Kubernetes does not validate (int32, int64, float, double, password, ...) always pass.

const goUnitNanos: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds; undefined if it would fail. */
export function parseGoDuration(text: string): number | undefined {
  let s = text;
  let sign = 1;
  if (s.startsWith("-") || s.startsWith("+")) {
    if (s.startsWith("-")) sign = -1;
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") return undefined;
  let total = 0;
  const part = /^([0-9]*(?:\.[0-9]*)?)([^0-9.]+)/;
  while (s !== "") {
    const m = part.exec(s);
    if (m === null) return undefined;
    const num = m[1] ?? "";
    const unit = goUnitNanos[m[2] ?? ""];
    if (num === "" || num === "." || unit === undefined) return undefined;
    total += Number(num) * unit;
    s = s.slice(m[0].length);
  }
  return sign * total;
}

const strfmtUnits: [string[], number][] = [
  [["ns", "nano"], 1],
  [["us", "µs", "micro"], 1e3],
  [["ms", "milli"], 1e6],
  [["s", "sec"], 1e9],
  [["m", "min"], 60e9],
  [["h", "hr", "hour"], 3600e9],
  [["d", "day"], 86400e9],
  [["w", "wk", "week"], 7 * 86400e9],
];

/** strfmt.ParseDuration (what `format: duration` accepts): Go durations, or `3 days`, `1w`, ... */
export function parseStrfmtDuration(text: string): number | undefined {
  const go = parseGoDuration(text);
  if (go !== undefined) return go;
  let total = 0;
  let ok = false;
  for (const m of text.matchAll(/(\d+)\s*([A-Za-zµ]+)/g)) {
    const factor = Number(m[1]);
    const unit = (m[2] ?? "").trim().toLowerCase();
    for (const [variants, multiplier] of strfmtUnits) {
      for (const [i, variant] of variants.entries()) {
        if ((i === variants.length - 1 && unit.startsWith(variant)) || variant === unit) {
          ok = true;
          total += factor * multiplier;
        }
      }
    }
  }
  return ok ? total : undefined;
}

const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const dnsLabel = "[a-zA-Z0-9](?:[-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?";
const ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function isIPv6(s: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return false;
  try {
    return new URL(`http://[${s}]/`).hostname.length > 0;
  } catch {
    return false;
  }
}

export const formatCheckers: Record<string, (s: string) => boolean> = {
  "date-time": (s) => rfc3339.test(s) && !Number.isNaN(Date.parse(s.replace(" ", "T"))),
  datetime: (s) => rfc3339.test(s) && !Number.isNaN(Date.parse(s.replace(" ", "T"))),
  date: (s) => /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(s)),
  duration: (s) => parseStrfmtDuration(s) !== undefined,
  byte: (s) => /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s),
  ipv4: (s) => ipv4.test(s),
  ipv6: isIPv6,
  cidr: (s) => {
    const [ip, bits, extra] = s.split("/");
    if (ip === undefined || bits === undefined || extra !== undefined || !/^\d+$/.test(bits)) return false;
    return ipv4.test(ip) ? Number(bits) <= 32 : isIPv6(ip) && Number(bits) <= 128;
  },
  mac: (s) => /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(s),
  uuid: (s) => /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(s),
  hostname: (s) => s.length <= 255 && new RegExp(`^${dnsLabel}(\\.${dnsLabel})*\\.?$`).test(s),
  email: (s) => /^[^\s@]+@[^\s@]+$/.test(s),
  uri: (s) => URL.canParse(s),
};
