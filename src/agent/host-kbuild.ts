// Debian's kernel headers are not self-contained: /usr/src/linux-headers-<release>/scripts and
// tools are links to /usr/lib/linux-kbuild-<version>/, another package. The agent pod sees the
// host's /usr/lib aside (HOST_USR_LIB_MOUNT), since mounting it over the image's own /usr/lib
// would replace the image's libraries; this links each host kbuild directory into the image's
// /usr/lib, where the headers' links expect it. Elsewhere (no such directories) it does nothing.
import { readdir, stat, symlink } from "node:fs/promises";
import path from "node:path";

/** Links `<hostUsrLib>/linux-kbuild-*` into `usrLib`; returns the names linked. */
export async function linkHostKbuild(hostUsrLib: string, usrLib: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = (await readdir(hostUsrLib)).filter((name) => name.startsWith("linux-kbuild-"));
  } catch {
    return [];
  }
  const linked: string[] = [];
  for (const name of entries.sort()) {
    const target = path.join(usrLib, name);
    try {
      await stat(target);
      continue;
    } catch {
      // not there: link it
    }
    await symlink(path.join(hostUsrLib, name), target);
    linked.push(name);
  }
  return linked;
}
