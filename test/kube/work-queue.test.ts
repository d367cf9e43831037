import { describe, expect, it } from "vitest";
import { WorkQueue } from "../../src/kube/work-queue.js";
import { holdsFor, until } from "../support/until.js";

const queue = () => new WorkQueue({ backoff: { initialMs: 10, maxMs: 80 } });

describe("the work queue", () => {
  it("holds a key once however often it is added, first in first out", async () => {
    const q = queue();
    for (const k of ["a", "b", "a", "c", "b"]) q.add(k);
    expect(q.depth).toBe(3);
    expect([await q.get(), await q.get(), await q.get()]).toEqual(["a", "b", "c"]);
  });

  it("never hands out a key being processed; added meanwhile, it comes back once done", async () => {
    const q = queue();
    q.add("a");
    const first = await q.get();
    q.add("a");
    q.add("a");
    expect(q.depth).toBe(0);
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    // Not handing it out is an absence no wait can show; a get() that could be served is
    // resolved at once, so a few milliseconds are plenty.
    await holdsFor("the key to stay with its worker", 5, () => second === undefined);
    expect(second).toBeUndefined();
    q.done(first ?? "");
    await until("the key to come back", () => second);
    expect(second).toBe("a");
  });

  it("backs off per key, doubling up to the cap, until the key is forgotten", () => {
    const q = queue();
    expect([1, 2, 3, 4, 5].map(() => q.addRateLimited("a"))).toEqual([10, 20, 40, 80, 80]);
    expect(q.addRateLimited("b")).toBe(10);
    q.forget("a");
    expect(q.addRateLimited("a")).toBe(10);
    q.shutDown();
  });

  it("keeps the earliest of several delayed adds", async () => {
    const q = queue();
    const started = Date.now();
    q.addAfter("a", 500);
    q.addAfter("a", 20);
    q.addAfter("a", 300);
    expect(await q.get()).toBe("a");
    expect(Date.now() - started).toBeLessThan(250);
    q.shutDown();
  });

  it("wakes waiting workers with undefined when shut down, and ignores adds after", async () => {
    const q = queue();
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
    q.add("a");
    expect(q.depth).toBe(0);
    expect(await q.get()).toBeUndefined();
  });
});
