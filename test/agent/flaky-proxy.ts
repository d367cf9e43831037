// A TCP proxy between a client and the test API server that cuts connections on cue: the test
// API server can fail or delay a request, but not drop the connection of an ordinary (non-watch)
// request, which is what a node losing its network mid-write looks like.
import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { reportApi, type ReportApi } from "../../src/agent/api-requests.js";

const REQUEST_LINE = /^(GET|POST|PUT|PATCH|DELETE) (\S+) HTTP\/1\.[01]\r\n/;

interface Cut {
  method: string;
  pathPrefix: string;
  remaining: number;
  /** "request": the server never sees it; "answer": the server applies it and the answer is lost. */
  when: "request" | "answer";
}

export class FlakyProxy {
  /** Request lines whose connection was cut, in order. */
  readonly cut: string[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #cuts: Cut[] = [];
  #url = "";

  private constructor(host: string, port: number) {
    this.#server = createServer((client) => {
      this.#pipe(client, host, port);
    });
  }

  /** A proxy to `target` (the test API server's url), listening on a port of its own. */
  static async start(target: string): Promise<FlakyProxy> {
    const { hostname, port } = new URL(target);
    const proxy = new FlakyProxy(hostname, Number(port));
    await new Promise<void>((resolve) => proxy.#server.listen(0, "127.0.0.1", resolve));
    proxy.#url = `http://127.0.0.1:${(proxy.#server.address() as AddressInfo).port}`;
    return proxy;
  }

  get url(): string {
    return this.#url;
  }

  /** The next `count` matching requests lose their connection, before or after the server handled them. */
  cutNext(method: string, pathPrefix: string, when: Cut["when"], count = 1): void {
    this.#cuts.push({ method, pathPrefix, when, remaining: count });
  }

  /** The agent's report requests, through this proxy. */
  api(): ReportApi {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "test", server: this.url, skipTLSVerify: true }],
      users: [{ name: "test", token: "test-token" }],
      contexts: [{ name: "test", cluster: "test", user: "test" }],
      currentContext: "test",
    });
    return reportApi(kc);
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }

  #pipe(client: Socket, host: string, port: number): void {
    const upstream = connect(port, host);
    this.#sockets.add(client).add(upstream);
    let dropAnswer = false;
    const cutBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("data", (chunk: Buffer) => {
      const line = REQUEST_LINE.exec(chunk.toString("latin1"));
      const cut = line === null ? undefined : this.#take(line[1] ?? "", line[2] ?? "");
      if (line !== null && cut !== undefined) {
        this.cut.push(`${line[1] ?? ""} ${line[2] ?? ""}`);
        if (cut.when === "request") {
          cutBoth();
          return;
        }
        dropAnswer = true;
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (dropAnswer) cutBoth();
      else client.write(chunk);
    });
    const forget = () => {
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
      cutBoth();
    };
    client.on("close", forget).on("error", forget);
    upstream.on("close", forget).on("error", forget);
  }

  #take(method: string, path: string): Cut | undefined {
    const cut = this.#cuts.find((c) => c.remaining > 0 && c.method === method && path.startsWith(c.pathPrefix));
    if (cut === undefined) return undefined;
    cut.remaining -= 1;
    this.#cuts = this.#cuts.filter((c) => c.remaining > 0);
    return cut;
  }
}
