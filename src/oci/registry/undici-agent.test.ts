import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loading } from "../../../test/harness/module-loads.js";
import { loadAgentClass, UNDICI_FILES } from "./undici-agent.js";

describe("loadAgentClass", () => {
  it("gives an Agent whose request sends and reads an answer", async () => {
    const server = createServer((req, res) => res.end(`${req.method} ${req.url}`));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const Agent = await loadAgentClass();
    const agent = new Agent({ connections: 1 });
    try {
      const { port } = server.address() as AddressInfo;
      const res = await agent.request({ origin: `http://127.0.0.1:${port}`, path: "/v2/", method: "GET" });
      assert.equal(res.statusCode, 200);
      assert.equal(await res.body.text(), "GET /v2/");
    } finally {
      await agent.close();
      server.close();
    }
  });

  it("loads the agent's files, not undici's index", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nodewasi-undici-loads-"));
    try {
      const mod = new URL("./undici-agent.js", import.meta.url).href;
      const r = await loading(dir, [
        "--input-type=module",
        "-e",
        `const { loadAgentClass } = await import(${JSON.stringify(mod)}); new (await loadAgentClass())();`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const undici = r.loaded.filter((u) => u.includes("/node_modules/undici/"));
      assert.ok(
        undici.some((u) => u.endsWith(UNDICI_FILES.agent.slice("undici".length))),
        undici.join("\n"),
      );
      assert.deepEqual(
        undici.filter((u) => u.endsWith("/undici/index.js")),
        [],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("falls back to undici's index when its files are not where undici 7 keeps them", async () => {
    const Agent = await loadAgentClass({ agent: "undici/lib/moved/agent.js", request: UNDICI_FILES.request });
    assert.equal(Agent, (await import("undici")).Agent);
  });
});
