// A command run on a pseudo-terminal, as a person runs it in theirs, and what their terminal
// would show. util-linux's `script` gives the command a pty of a set size (stty inside it) and
// copies what it writes to its own stdout; @xterm/headless, a terminal emulator, renders those
// bytes into screens. Typing goes through script's stdin into the pty, so Ctrl-C is the real
// thing: the pty's line discipline turns it into SIGINT for the command.
//
// A frame of a live view is a screen as it stands after each redraw: log-update ends each
// redraw with the end of a synchronized update (ESC [ ? 2026 l), which is where screens are taken.
import { existsSync } from "node:fs";
import xtermHeadless from "@xterm/headless";
import { execa } from "execa";

const { Terminal } = xtermHeadless;
const SCRIPT = "/usr/bin/script";
const FRAME_END = "\u001b[?2026l";

/** Quotes one word for sh -c. */
const shellWord = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`;

/** script: -e exits with the command's code; -q prints no "Script started" lines; -f writes at once. */
const spawnScript = (command: string, env: Record<string, string>) =>
  execa(SCRIPT, ["-q", "-e", "-f", "-c", command, "/dev/null"], { env, stdin: "pipe", buffer: false, reject: false });

export interface PtySize {
  columns: number;
  rows: number;
}

export class PseudoTerminal {
  readonly #terminal: InstanceType<typeof Terminal>;
  readonly #child: ReturnType<typeof spawnScript>;
  /** Screens after each redraw, in order. */
  readonly frames: string[] = [];
  /** Every byte the command wrote to its terminal. */
  raw = "";
  #parsing: Promise<void> = Promise.resolve();
  readonly exit: Promise<number>;

  constructor(argv: readonly string[], env: Record<string, string>, size: PtySize) {
    if (!existsSync(SCRIPT))
      throw new Error(`${SCRIPT} is missing: the live view's tests run the plugin on a pseudo-terminal with util-linux's script (apt-get install bsdutils)`);
    this.#terminal = new Terminal({ cols: size.columns, rows: size.rows, scrollback: 10_000, allowProposedApi: true });
    const command = `stty cols ${size.columns} rows ${size.rows} && exec ${argv.map(shellWord).join(" ")}`;
    this.#child = spawnScript(command, env);
    this.#child.stdout.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      this.raw += text;
      this.#parsing = this.#parsing.then(
        () =>
          new Promise<void>((resolve) => {
            this.#terminal.write(text, () => {
              if (text.includes(FRAME_END)) this.frames.push(this.screen());
              resolve();
            });
          }),
      );
    });
    this.exit = this.#child.then(async (result) => {
      await this.#parsing;
      return result.exitCode ?? -1;
    });
  }

  /** What the terminal shows now: its visible lines, trailing blanks trimmed. */
  screen(): string {
    const buffer = this.#terminal.buffer.active;
    const lines: string[] = [];
    for (let y = buffer.viewportY; y < buffer.viewportY + this.#terminal.rows; y += 1) lines.push(buffer.getLine(y)?.translateToString(true) ?? "");
    return trimBlankEnd(lines);
  }

  /**
   * Everything the terminal holds, scrollback included, as its lines now read; a line the
   * terminal wrapped at its width is one line again, as the command wrote it.
   */
  history(): string {
    const buffer = this.#terminal.buffer.active;
    const lines: string[] = [];
    for (let y = 0; y < buffer.length; y += 1) {
      const line = buffer.getLine(y);
      const text = line?.translateToString(false) ?? "";
      const previous = lines.at(-1);
      if (line?.isWrapped === true && previous !== undefined) lines[lines.length - 1] = previous + text;
      else lines.push(text);
    }
    return trimBlankEnd(lines.map((l) => l.trimEnd()));
  }

  /** Types text, as keys: "\u0003" is Ctrl-C. */
  type(text: string): void {
    this.#child.stdin.write(text);
  }

  /** Ends script (and so the command) if it still runs. */
  kill(): void {
    this.#child.kill("SIGKILL");
  }
}

function trimBlankEnd(lines: string[]): string {
  let end = lines.length;
  while (end > 0 && lines[end - 1]?.trim() === "") end -= 1;
  return lines.slice(0, end).join("\n");
}
