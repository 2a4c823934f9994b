/**
 * A loopback HTTP proxy in front of a registry that injects faults into chosen responses: error statuses,
 * 429 with Retry-After, any answer given in full (an HTML page, a redirect), connection resets and truncation
 * part way through a body, a flipped byte, a slow body, a body that never ends; stalls (a request never answered, or a body that stops part way while the connection stays open); and into
 * request bodies on their way to the registry (uploads): a reset part way, a flipped byte, a slow body, a
 * body no longer read part way, or an answer dropped after the registry acted on the request.
 * Rules match by method, path regex and which occurrence of the match; every injected fault is counted and
 * every request is recorded (with its Range header) for assertions. Location headers pointing at the target
 * are rewritten to the proxy so that uploads and redirects keep going through it.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { close, listen } from "./net.js";

export type Fault =
  /**
   * Answer with this status and a registry-style error body (`code`, default by status), without asking the
   * target.
   */
  | { kind: "status"; status: number; retryAfter?: number; code?: string }
  /** Forward the first `afterBytes` bytes of the request body, then reset both connections (a broken upload). */
  | { kind: "reset-request"; afterBytes: number }
  /** Send the status line, headers and the first `afterBytes` body bytes, then reset the connection. */
  | { kind: "reset"; afterBytes: number }
  /** Send the first `afterBytes` body bytes, then close cleanly although Content-Length promised more. */
  | { kind: "truncate"; afterBytes: number }
  /** Invert every bit of the body byte at `offset`. */
  | { kind: "flip"; offset: number }
  /** Send the body in `chunkBytes` pieces, `delayMs` apart. */
  | { kind: "slow"; chunkBytes: number; delayMs: number }
  /** Invert every bit of the request body byte at `offset` on its way to the registry. */
  | { kind: "flip-request"; offset: number }
  /** Forward the request body in `chunkBytes` pieces, `delayMs` apart. */
  | { kind: "slow-request"; chunkBytes: number; delayMs: number }
  /** Forward the whole request, let the registry answer, then reset the client instead of answering. */
  | { kind: "drop-response" }
  /**
   * Answer with exactly this, without asking the target: an HTML page where a manifest was asked for, a
   * redirect to another host, an oversized token answer.
   */
  | { kind: "answer"; status: number; headers?: Record<string, string>; body?: string | Buffer }
  /** Answer 200 with `headers` and a body that never ends: `chunk` every `delayMs`, until the client goes. */
  | { kind: "endless"; headers?: Record<string, string>; chunk: string; delayMs: number }
  /** Take the request and never answer it, holding the connection open (a registry that hangs). */
  | { kind: "silence" }
  /**
   * Send the status line, headers and the first `afterBytes` body bytes (0: headers only), then nothing more,
   * holding the connection open.
   */
  | { kind: "stall"; afterBytes: number }
  /** Forward the first `afterBytes` bytes of the request body, then stop reading it and never answer. */
  | { kind: "stall-request"; afterBytes: number };

export interface FaultRule {
  /** HTTP method to match (any when absent). */
  method?: string;
  /** Matched against the request path with its query string. */
  path: RegExp;
  /** Which matching requests get the fault, 1-based; `"all"` for every one. Default: `[1]`. */
  occurrences?: number[] | "all";
  fault: Fault;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  range: string | undefined;
  authorization: boolean;
  status: number;
  /** The kind of fault injected into this request, if any. */
  fault?: Fault["kind"];
}

export interface FaultProxy {
  /** `127.0.0.1:PORT` of the proxy: use it as the registry host. */
  host: string;
  requests: ProxiedRequest[];
  /** How many faults each rule injected, by rule index. */
  injected: number[];
  /** Total faults injected. */
  total(): number;
  /** Replaces the rules (and resets their occurrence counters and counts). */
  setRules(rules: FaultRule[]): void;
  stop(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "proxy-connection",
  "upgrade",
  "host",
]);

/** Starts a proxy to `target` (`127.0.0.1:PORT`) applying `rules` (the first matching rule wins). */
export async function startFaultProxy(target: string, rules: FaultRule[] = []): Promise<FaultProxy> {
  let current = rules;
  let seen: number[] = rules.map(() => 0);
  let injected: number[] = rules.map(() => 0);
  const requests: ProxiedRequest[] = [];
  let self = "";

  const pick = (req: IncomingMessage): { fault: Fault; index: number } | undefined => {
    for (const [i, rule] of current.entries()) {
      if (rule.method && rule.method.toUpperCase() !== req.method) continue;
      if (!rule.path.test(req.url ?? "")) continue;
      seen[i] = (seen[i] ?? 0) + 1;
      const which = rule.occurrences ?? [1];
      if (which === "all" || which.includes(seen[i] ?? 0)) {
        injected[i] = (injected[i] ?? 0) + 1;
        return { fault: rule.fault, index: i };
      }
      return undefined;
    }
    return undefined;
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const record: ProxiedRequest = {
      method: req.method ?? "GET",
      path: req.url ?? "/",
      range: req.headers.range,
      authorization: req.headers.authorization !== undefined,
      status: 0,
    };
    requests.push(record);
    const hit = pick(req);
    if (hit) record.fault = hit.fault.kind;
    if (hit?.fault.kind === "answer") {
      req.resume();
      record.status = hit.fault.status;
      res.writeHead(hit.fault.status, hit.fault.headers ?? {});
      res.end(hit.fault.body ?? "");
      return;
    }
    if (hit?.fault.kind === "endless") {
      const { chunk, delayMs } = hit.fault;
      req.resume();
      record.status = 200;
      res.writeHead(200, hit.fault.headers ?? {});
      const timer = setInterval(() => res.write(chunk), delayMs);
      res.on("close", () => clearInterval(timer));
      return;
    }
    if (hit?.fault.kind === "silence") {
      req.resume();
      record.status = -1;
      return;
    }
    if (hit?.fault.kind === "status") {
      const { status, retryAfter } = hit.fault;
      req.resume();
      record.status = status;
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (retryAfter !== undefined) headers["retry-after"] = String(retryAfter);
      const code = hit.fault.code ?? (status === 429 ? "TOOMANYREQUESTS" : "UNAVAILABLE");
      res.writeHead(status, headers);
      res.end(JSON.stringify({ errors: [{ code, message: `injected fault: HTTP ${status}` }] }));
      return;
    }
    const headers: IncomingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k)) headers[k] = v;
    headers.host = target;
    const upstream = httpRequest(
      {
        host: target.split(":")[0],
        port: Number(target.split(":")[1]),
        method: req.method,
        path: req.url,
        headers,
      },
      (up) => {
        record.status = up.statusCode ?? 0;
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(up.headers)) {
          if (v === undefined || HOP_BY_HOP.has(k)) continue;
          out[k] = k === "location" && typeof v === "string" ? v.replace(`//${target}/`, `//${self}/`) : v;
        }
        if (hit?.fault.kind === "drop-response") {
          up.resume();
          up.on("end", () => res.socket?.resetAndDestroy());
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.statusMessage, out);
        res.flushHeaders();
        pipeWithFault(up, res, hit?.fault);
      },
    );
    upstream.on("error", () => res.destroy());
    pipeRequest(req, upstream, res, hit?.fault, record);
  };

  const server = createServer(handle);
  self = await listen(server);
  return {
    host: self,
    requests,
    get injected() {
      return injected;
    },
    total: () => injected.reduce((a, b) => a + b, 0),
    setRules(next) {
      current = next;
      seen = next.map(() => 0);
      injected = next.map(() => 0);
    },
    stop: () => close(server),
  };
}

/**
 * Forwards `limit` bytes of the client's request body, then aborts the upstream request (the target sees a
 * body cut short) and resets the client's connection (the client sees its upload break).
 */
function cutRequest(
  req: IncomingMessage,
  upstream: ReturnType<typeof httpRequest>,
  res: ServerResponse,
  limit: number,
  record: ProxiedRequest,
): void {
  let sent = 0;
  let cut = false;
  req.on("data", (chunk: Buffer) => {
    if (cut) return;
    const keep = chunk.subarray(0, Math.max(0, limit - sent));
    sent += keep.length;
    if (keep.length) upstream.write(keep);
    if (sent >= limit) {
      cut = true;
      record.status = -1;
      // Let the kept bytes reach the target before the break.
      setTimeout(() => {
        upstream.destroy();
        req.socket.resetAndDestroy();
        res.destroy();
      }, 50);
    }
  });
  req.on("end", () => {
    if (!cut) upstream.end();
  });
}

/**
 * Forwards `limit` bytes of the client's request body, then stops reading it: the client's writes back up
 * until its socket buffers are full, and no answer ever comes. The registry's request is abandoned.
 */
function stallRequest(
  req: IncomingMessage,
  upstream: ReturnType<typeof httpRequest>,
  limit: number,
  record: ProxiedRequest,
): void {
  let sent = 0;
  const onData = (chunk: Buffer) => {
    const keep = chunk.subarray(0, Math.max(0, limit - sent));
    sent += keep.length;
    if (keep.length) upstream.write(keep);
    if (sent >= limit) {
      record.status = -1;
      req.off("data", onData);
      req.pause();
      // Abandon the registry's side without the error handler answering the client (it would reset it).
      upstream.removeAllListeners("error");
      upstream.on("error", () => {});
      upstream.destroy();
    }
  };
  req.on("data", onData);
  req.on("end", () => {
    if (sent < limit) upstream.end();
  });
}

/** Copies the client's request body to the registry, applying a request fault. */
function pipeRequest(
  req: IncomingMessage,
  upstream: ReturnType<typeof httpRequest>,
  res: ServerResponse,
  fault: Fault | undefined,
  record: ProxiedRequest,
): void {
  if (fault?.kind === "reset-request") {
    cutRequest(req, upstream, res, fault.afterBytes, record);
    return;
  }
  if (fault?.kind === "stall-request") {
    stallRequest(req, upstream, fault.afterBytes, record);
    return;
  }
  if (fault?.kind !== "flip-request" && fault?.kind !== "slow-request") {
    req.pipe(upstream);
    return;
  }
  let sent = 0;
  let writing = Promise.resolve();
  req.on("data", (chunk: Buffer) => {
    if (fault.kind === "flip-request") {
      if (fault.offset >= sent && fault.offset < sent + chunk.length) {
        chunk = Buffer.from(chunk);
        const i = fault.offset - sent;
        chunk[i] = (chunk[i] ?? 0) ^ 0xff;
      }
    } else {
      req.pause();
      const piece = chunk;
      writing = writing.then(async () => {
        for (let i = 0; i < piece.length; i += fault.chunkBytes) {
          upstream.write(piece.subarray(i, i + fault.chunkBytes));
          await new Promise((r) => setTimeout(r, fault.delayMs));
        }
        req.resume();
      });
      sent += chunk.length;
      return;
    }
    sent += chunk.length;
    upstream.write(chunk);
  });
  req.on("end", () => void writing.then(() => upstream.end()));
}

/** Copies the upstream body to the client, applying a body fault. */
function pipeWithFault(up: IncomingMessage, res: ServerResponse, fault: Fault | undefined): void {
  if (!fault || fault.kind === "status") {
    up.pipe(res);
    return;
  }
  let sent = 0;
  let stopped = false;
  const cut = (chunk: Buffer, limit: number, how: "reset" | "truncate") => {
    const keep = chunk.subarray(0, Math.max(0, limit - sent));
    stopped = true;
    up.destroy();
    const finish = () => {
      const socket = res.socket;
      if (!socket) return;
      if (how === "reset") socket.resetAndDestroy();
      else socket.end();
    };
    if (keep.length) res.write(keep, finish);
    else finish();
  };
  if (fault.kind === "slow") {
    let writing = Promise.resolve();
    up.on("data", (chunk: Buffer) => {
      up.pause();
      writing = (async () => {
        for (let i = 0; i < chunk.length && !res.destroyed; i += fault.chunkBytes) {
          res.write(chunk.subarray(i, i + fault.chunkBytes));
          await new Promise((r) => setTimeout(r, fault.delayMs));
        }
        up.resume();
      })();
    });
    up.on("end", () => void writing.then(() => res.end()));
    res.on("close", () => up.destroy());
    return;
  }
  up.on("data", (chunk: Buffer) => {
    if (stopped) return;
    switch (fault.kind) {
      case "stall":
        if (sent + chunk.length > fault.afterBytes) {
          // Keep the connection open and silent: only the client giving up ends it.
          stopped = true;
          const keep = chunk.subarray(0, Math.max(0, fault.afterBytes - sent));
          if (keep.length) res.write(keep);
          return;
        }
        break;
      case "reset":
      case "truncate":
        if (sent + chunk.length > fault.afterBytes) {
          cut(chunk, fault.afterBytes, fault.kind);
          return;
        }
        break;
      case "flip":
        if (fault.offset >= sent && fault.offset < sent + chunk.length) {
          chunk = Buffer.from(chunk);
          const i = fault.offset - sent;
          chunk[i] = (chunk[i] ?? 0) ^ 0xff;
        }
        break;
    }
    sent += chunk.length;
    res.write(chunk);
  });
  up.on("end", () => {
    if (stopped) return;
    res.end();
  });
  res.on("close", () => up.destroy());
}
