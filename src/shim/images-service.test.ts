/**
 * `Images.Pull` called directly (no transport), over an OCI layout: the request's policy reaches the pull, and
 * an image answered from the store streams its result alone.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { helloModule } from "../../test/harness/modules.js";
import { type PullProgress, PullProgressSchema, PullRequestSchema } from "../gen/index.js";
import { Code, ShimError } from "../internal/index.js";
import { buildImage, type PullPolicy, writeLayout } from "../oci/index.js";
import { ImagesService } from "./images-service.js";
import { pullPolicyMsg } from "./pull-codec.js";

let tmp: string;
let ref: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "nodewasi-images-service-"));
  const module = helloModule("pulled through the service");
  await writeLayout(join(tmp, "layout"), [
    { image: buildImage({ module, format: "image", entrypoint: "/hello.wasm" }), tag: "v1" },
  ]);
  ref = `oci:${join(tmp, "layout")}:v1`;
});
after(() => rm(tmp, { recursive: true, force: true }));
let n = 0;

/** Every message of one Pull, with `policy` unset when not given. */
async function pullAll(service: ImagesService, policy?: PullPolicy): Promise<PullProgress[]> {
  const req = create(PullRequestSchema, {
    reference: ref,
    ...(policy ? { policy: pullPolicyMsg(policy) } : {}),
  });
  const out: PullProgress[] = [];
  for await (const m of service.pull(req, { signal: new AbortController().signal, metadata: {} })) {
    out.push(create(PullProgressSchema, m));
  }
  return out;
}

const cases = (messages: PullProgress[]) => messages.map((m) => m.event.case);

/** The result a Pull stream ended with. */
function resultOf(messages: PullProgress[]) {
  const last = messages.at(-1)?.event;
  assert.equal(last?.case, "result");
  return last.value;
}

describe("ImagesService.pull", () => {
  it("unset policy pulls (progress, then the result); missing then answers with the result alone", async () => {
    const service = new ImagesService(join(tmp, `root-${++n}`));
    const first = await pullAll(service);
    assert.equal(cases(first)[0], "resolved");
    const again = await pullAll(service);
    assert.equal(cases(again)[0], "resolved", "unset is always: it goes to the source again");
    const stored = await pullAll(service, "missing");
    assert.deepEqual(cases(stored), ["result"]);
    assert.equal(resultOf(stored).bytesFetched, 0n);
    assert.equal(resultOf(stored).module?.digest, resultOf(first).module?.digest);
  });

  it("never on an image the store does not have is NotFound", async () => {
    const service = new ImagesService(join(tmp, `root-${++n}`));
    await assert.rejects(
      pullAll(service, "never"),
      (err: unknown) => err instanceof ShimError && err.code === Code.NotFound,
    );
  });
});
