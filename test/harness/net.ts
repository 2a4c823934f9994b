/** Small network helpers for the harness: free loopback ports and waiting for a server to answer. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A port that was free a moment ago: a server listens on 127.0.0.1:0 and closes. Only for child processes
 * that must be told their port; in-process servers listen on port 0 themselves (see `listen`).
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Listens on 127.0.0.1:0 and returns `127.0.0.1:PORT`. */
export async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Closes a server and every connection it holds open. */
export async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Polls `url` until any HTTP response arrives, `gaveUp()` says stop, or `timeoutMs` passes. */
export async function waitForHttp(
  url: string,
  timeoutMs: number,
  gaveUp: () => boolean = () => false,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (gaveUp()) throw new Error("the process exited");
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no answer from ${url} within ${timeoutMs} ms (${String(last)})`);
}

/** A loopback port where connecting hangs (see `startBlackhole`). */
export interface Blackhole {
  /** `127.0.0.1:PORT`. */
  host: string;
  stop(): Promise<void>;
}

/**
 * A port whose connections never complete, as a host behind a firewall that drops packets: a perl process
 * listens with a backlog of 1 and never accepts, and connections made here fill the kernel's accept queue, so
 * the kernel drops every further SYN and a client's connect waits until it gives up. Node cannot do this with
 * its own sockets: libuv accepts whatever arrives. Rejects when the kernel completes connections anyway.
 */
export async function startBlackhole(): Promise<Blackhole> {
  const { spawn } = await import("node:child_process");
  const { connect } = await import("node:net");
  const perl = spawn(
    "perl",
    [
      "-MIO::Socket::INET",
      "-e",
      '$s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0, Proto => "tcp") or die "$!"; $| = 1; print $s->sockport, "\\n"; <STDIN>;',
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    perl.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
    perl.once("exit", (code) => reject(new Error(`perl exited (${code}) before listening`)));
    perl.once("error", reject);
  });
  const host = `127.0.0.1:${port}`;
  const tryConnect = (ms: number) =>
    new Promise<import("node:net").Socket | undefined>((resolve) => {
      const s = connect(port, "127.0.0.1");
      const timer = setTimeout(() => {
        s.destroy();
        resolve(undefined);
      }, ms);
      s.once("connect", () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once("error", () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
  // The queue holds backlog + 1 connections on Linux; fill it until a connect hangs.
  const fillers: import("node:net").Socket[] = [];
  const stop = async () => {
    for (const s of fillers) s.destroy();
    perl.stdin.end();
    if (perl.exitCode === null) await new Promise((r) => perl.once("exit", r));
  };
  for (;;) {
    const s = await tryConnect(500);
    if (!s) break;
    fillers.push(s);
    if (fillers.length > 8) {
      await stop();
      throw new Error(`connections to ${host} complete although nothing accepts them; no blackhole here`);
    }
  }
  return { host, stop };
}
