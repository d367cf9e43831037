import { describe, expect, it } from "vitest";
import { formatDuration, parseDurationSeconds } from "../../src/api/duration.js";

describe("parseDurationSeconds", () => {
  it.each([
    ["5s", 5],
    ["90s", 90],
    ["5m", 300],
    ["1h30m", 5400],
    ["1h2m3s", 3723],
    ["24h", 86400],
    ["1440m", 86400],
    ["0s", 0],
  ])("reads %s as %i seconds", (text, seconds) => {
    expect(parseDurationSeconds(text)).toBe(seconds);
  });

  it.each(["", "s", "60", "1.5h", "-5s", "500ms", "30s1m", "1 hour", "1h 30m", "1d", "5S", "1234567890123h"])("refuses %j", (text) => {
    expect(parseDurationSeconds(text)).toBeUndefined();
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0s"],
    [5, "5s"],
    [90, "1m30s"],
    [3600, "1h"],
    [5400, "1h30m"],
    [86399, "23h59m59s"],
  ])("writes %i seconds as %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
    expect(parseDurationSeconds(text)).toBe(seconds);
  });
});
