import { mkdir, mkdtemp, readlink, realpath, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { linkHostKbuild } from "../../src/agent/host-kbuild.js";

describe("linkHostKbuild", () => {
  it("makes Debian's header links resolve inside the agent's file system", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "droptrace-kbuild-"));
    const host = path.join(root, "host/usr/lib");
    const usrLib = path.join(root, "usr/lib");
    await mkdir(path.join(host, "linux-kbuild-7.2.13+deb14/scripts"), { recursive: true });
    await writeFile(path.join(host, "linux-kbuild-7.2.13+deb14/scripts/Makefile.build"), "# kbuild\n");
    await mkdir(path.join(host, "x86_64-linux-gnu"), { recursive: true });
    await mkdir(path.join(usrLib, "linux-kbuild-6.1"), { recursive: true });
    await mkdir(path.join(host, "linux-kbuild-6.1"), { recursive: true });
    // The headers' own link, as Debian ships it: relative, into /usr/lib.
    const headers = path.join(root, "usr/src/linux-headers-7.2.13+deb14-amd64");
    await mkdir(headers, { recursive: true });
    await symlink("../../lib/linux-kbuild-7.2.13+deb14/scripts", path.join(headers, "scripts"));

    expect(await linkHostKbuild(host, usrLib)).toEqual(["linux-kbuild-7.2.13+deb14"]);
    expect(await readlink(path.join(usrLib, "linux-kbuild-7.2.13+deb14"))).toBe(path.join(host, "linux-kbuild-7.2.13+deb14"));
    expect(await realpath(path.join(headers, "scripts/Makefile.build"))).toBe(
      path.join(await realpath(host), "linux-kbuild-7.2.13+deb14/scripts/Makefile.build"),
    );
    // Running again links nothing more; the image's own directory is left alone.
    expect(await linkHostKbuild(host, usrLib)).toEqual([]);
  });

  it("does nothing where there is no host /usr/lib mounted", async () => {
    expect(await linkHostKbuild("/nonexistent/host/usr/lib", "/nonexistent/usr/lib")).toEqual([]);
  });
});
