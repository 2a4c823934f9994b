/**
 * An in-process HTTP server on 127.0.0.1 (port 0) that records every request with its body and lets a test
 * answer by hand, for the behaviours a real registry cannot be made to show (resets, 429s, redirects to
 * storage, hostile sizes).
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** One request as the server saw it, body included. */
export interface Recorded {
  method: string;
  /** Path and query. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  socket: Socket;
}

/** A running server; `close()` drops open connections too, so tests end promptly. */
export interface LoopbackServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** `127.0.0.1:<port>`, usable as a registry name (loopback: plain HTTP). */
  host: string;
  port: number;
  requests: Recorded[];
  close(): Promise<void>;
}

/** Answers one recorded request. */
export type Handler = (req: Recorded, res: ServerResponse) => void | Promise<void>;

/** Starts a server on 127.0.0.1 on a free port. */
export async function loopbackServer(handler: Handler): Promise<LoopbackServer> {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const rec: Recorded = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
        socket: req.socket,
      };
      requests.push(rec);
      Promise.resolve(handler(rec, res)).catch((err: unknown) => {
        res.statusCode = 599;
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Sends a JSON answer. */
export function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { "content-type": "application/json", "content-length": bytes.length, ...headers });
  res.end(bytes);
}
