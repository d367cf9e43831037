// Which probe module each trace has loaded, recorded on disk so an agent that was killed
// (SIGKILL, OOM, node reboot of the container) can be cleaned up after by the next agent
// for the same trace: it removes only its own leftover, never another trace's live module.
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";

export interface ModuleTable {
  /** Names in /proc/modules now. */
  loaded(): Promise<Set<string>>;
  /**
   * Unloads one module; resolves to the error text when it could not. `loaderPid` is the
   * staprun that loaded it (it execs stapio): if that process still runs, an orphan of a killed
   * agent, it holds the module and is stopped first.
   */
  remove(name: string, loaderPid?: number): Promise<string | undefined>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** True while `pid` is SystemTap's loader (staprun, which becomes stapio): never signal anything else. */
async function isLoader(pid: number): Promise<boolean> {
  try {
    const comm = (await readFile(`/proc/${pid}/comm`, "utf8")).trim();
    return comm === "stapio" || comm === "staprun";
  } catch {
    return false;
  }
}

/** Asks a leftover loader to stop as staprun stops on Ctrl-C: it unloads its module on the way out. */
async function stopLoader(pid: number, name: string): Promise<void> {
  if (!(await isLoader(pid))) return;
  process.kill(pid, "SIGTERM");
  for (let waited = 0; waited < 10_000; waited += 200) {
    if (!(await isLoader(pid)) && !(await procModules.loaded()).has(name)) return;
    await sleep(200);
  }
  if (await isLoader(pid)) process.kill(pid, "SIGKILL");
}

/** Module names in /proc/modules' text: every line's first word, whatever its state (Loading, Live, Unloading). */
export function parseProcModules(text: string): Set<string> {
  return new Set(
    text
      .split("\n")
      .map((line) => line.split(" ", 1)[0] ?? "")
      .filter((name) => name !== ""),
  );
}

export const procModules: ModuleTable = {
  loaded: async () => {
    let text = "";
    try {
      text = await readFile("/proc/modules", "utf8");
    } catch {
      return new Set();
    }
    return parseProcModules(text);
  },
  remove: async (name, loaderPid) => {
    if (loaderPid !== undefined) {
      await stopLoader(loaderPid, name);
      if (!(await procModules.loaded()).has(name)) return undefined;
    }
    // staprun -d unloads a SystemTap module through its own control channel; rmmod is the fallback.
    const viaStaprun = await execa("staprun", ["-d", name], { reject: false, stdin: "ignore", timeout: 30_000 });
    if (viaStaprun.exitCode === 0) return undefined;
    const viaRmmod = await execa("rmmod", [name], { reject: false, stdin: "ignore", timeout: 30_000 });
    return viaRmmod.exitCode === 0 ? undefined : `${viaStaprun.stderr || viaStaprun.shortMessage} / ${viaRmmod.stderr || viaRmmod.shortMessage}`;
  },
};

export class LoadedModuleRecord {
  readonly #file: string;

  constructor(cacheDir: string, owner: string) {
    this.#file = path.join(cacheDir, "loaded", `${owner.replace(/[^A-Za-z0-9_.-]/g, "_")}.module`);
  }

  /** Records the module and the pid of the staprun that loaded it. */
  async write(moduleName: string, loaderPid?: number): Promise<void> {
    await mkdir(path.dirname(this.#file), { recursive: true });
    await writeFile(this.#file, `${moduleName}${loaderPid === undefined ? "" : ` ${loaderPid}`}\n`);
  }

  /** The recorded module name. */
  async read(): Promise<string | undefined> {
    return (await this.#entry())?.name;
  }

  /** The recorded loader pid, if any. */
  async loaderPid(): Promise<number | undefined> {
    return (await this.#entry())?.pid;
  }

  async #entry(): Promise<{ name: string; pid?: number } | undefined> {
    let text: string;
    try {
      text = await readFile(this.#file, "utf8");
    } catch {
      return undefined;
    }
    const match = /^(droptrace_[0-9a-f]+_\d+)(?: (\d+))?$/.exec(text.trim());
    if (!match?.[1]) return undefined;
    return match[2] === undefined ? { name: match[1] } : { name: match[1], pid: Number(match[2]) };
  }

  async clear(): Promise<void> {
    await rm(this.#file, { force: true });
  }
}

/** Removes the module a killed earlier run of this owner left loaded. Returns its name if there was one. */
export async function removeLeftover(record: LoadedModuleRecord, modules: ModuleTable): Promise<string | undefined> {
  const name = await record.read();
  if (name === undefined) return undefined;
  if (!(await modules.loaded()).has(name)) {
    await record.clear();
    return undefined;
  }
  const error = await modules.remove(name, await record.loaderPid());
  if (error !== undefined) throw new Error(`module ${name}, left loaded by an earlier run that was killed, could not be removed: ${error}`);
  await record.clear();
  return name;
}
