import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Code, ShimError } from "../../internal/index.js";
import {
  formatReference,
  formatSourceSpec,
  isLoopbackRegistry,
  parseReference,
  parseSourceSpec,
  registryHost,
} from "./reference.js";

const D = `sha256:${"ab".repeat(32)}`;

function throwsInvalid(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ShimError, `expected ShimError, got ${String(err)}`);
    assert.equal(err.code, Code.InvalidArgument);
    assert.match(err.message, pattern);
    return true;
  });
}

describe("parseReference", () => {
  it("normalises Docker Hub short names as docker pull does", () => {
    assert.deepEqual(parseReference("hello"), {
      registry: "docker.io",
      repository: "library/hello",
      tag: "latest",
    });
    assert.deepEqual(parseReference("user/app:v1"), {
      registry: "docker.io",
      repository: "user/app",
      tag: "v1",
    });
    assert.deepEqual(parseReference("index.docker.io/foo"), {
      registry: "docker.io",
      repository: "library/foo",
      tag: "latest",
    });
    assert.deepEqual(parseReference("docker.io/foo/bar"), {
      registry: "docker.io",
      repository: "foo/bar",
      tag: "latest",
    });
  });

  it("recognises registries by dot, colon, localhost or uppercase", () => {
    assert.equal(parseReference("ghcr.io/org/app").registry, "ghcr.io");
    assert.equal(parseReference("localhost/app").registry, "localhost");
    assert.equal(parseReference("localhost:5000/app").registry, "localhost:5000");
    assert.equal(parseReference("myhost:5000/a/b/c:t").repository, "a/b/c");
    assert.equal(parseReference("Registry/app").registry, "Registry");
    // A first component without dot, colon or uppercase is a Docker Hub user.
    assert.deepEqual(parseReference("myhost/app"), {
      registry: "docker.io",
      repository: "myhost/app",
      tag: "latest",
    });
  });

  it("accepts IPv6 registries with ports", () => {
    assert.deepEqual(parseReference("[::1]:5000/x:1"), { registry: "[::1]:5000", repository: "x", tag: "1" });
    assert.equal(parseReference("[fe80::1]/x").registry, "[fe80::1]");
  });

  it("keeps digest and tag, and defaults the tag only without a digest", () => {
    assert.deepEqual(parseReference(`127.0.0.1:5000/x@${D}`), {
      registry: "127.0.0.1:5000",
      repository: "x",
      digest: D,
    });
    assert.deepEqual(parseReference(`x:v2@${D}`), {
      registry: "docker.io",
      repository: "library/x",
      tag: "v2",
      digest: D,
    });
  });

  it("accepts repository separators . _ __ and runs of -", () => {
    assert.equal(parseReference("x/a.b_c__d---e/f").repository, "x/a.b_c__d---e/f");
    // A dot in the first component makes it a registry, as in splitDockerDomain.
    assert.equal(parseReference("a.b/f").registry, "a.b");
  });

  it("refuses each invalid form with a clear InvalidArgument", () => {
    throwsInvalid(() => parseReference(""), /is empty/);
    throwsInvalid(() => parseReference("ghcr.io/Org/app"), /"Org\/app" must be lowercase/);
    throwsInvalid(() => parseReference("Hello@" + D), /must be lowercase/);
    throwsInvalid(() => parseReference("ab".repeat(32)), /image ID/);
    throwsInvalid(() => parseReference("a__.b"), /repository "library\/a__.b" is not valid/);
    throwsInvalid(() => parseReference("a/"), /repository/);
    throwsInvalid(() => parseReference("x:.bad"), /tag ".bad" is not valid/);
    throwsInvalid(() => parseReference(`x:${"t".repeat(129)}`), /tag/);
    throwsInvalid(() => parseReference("x@sha256:abc"), /digest "sha256:abc" is not valid/);
    throwsInvalid(() => parseReference(`x@sha512:${"a".repeat(128)}`), /algorithm sha512 is not supported/);
    throwsInvalid(() => parseReference("-bad.io/x"), /registry "-bad.io"/);
    throwsInvalid(
      () => parseReference(`ghcr.io/${"a".repeat(256)}`),
      /256 characters long, the limit is 255/,
    );
    throwsInvalid(() => parseReference("a b"), /invalid image reference "a b"/);
  });

  it("allows a 255-character repository and a 128-character tag", () => {
    assert.equal(parseReference(`ghcr.io/${"a".repeat(255)}`).repository.length, 255);
    assert.equal(parseReference(`x:${"t".repeat(128)}`).tag?.length, 128);
  });
});

describe("formatReference", () => {
  it("prints the canonical containerd name", () => {
    assert.equal(formatReference(parseReference("hello")), "docker.io/library/hello:latest");
    assert.equal(formatReference(parseReference(`x:v@${D}`)), `docker.io/library/x:v@${D}`);
    assert.equal(formatReference(parseReference(`x@${D}`)), `docker.io/library/x@${D}`);
  });

  const alnum = fc.stringMatching(/^[a-z0-9]{1,6}$/);
  const component = fc
    .tuple(alnum, fc.array(fc.tuple(fc.constantFrom(".", "_", "__", "-", "--"), alnum), { maxLength: 2 }))
    .map(([a, rest]) => a + rest.map(([s, b]) => s + b).join(""));
  const repository = fc.array(component, { minLength: 2, maxLength: 4 }).map((c) => c.join("/"));
  const registry = fc.oneof(
    fc.constantFrom("docker.io", "ghcr.io", "localhost", "localhost:5000", "[::1]:5000", "127.0.0.1:40000"),
    fc
      .tuple(
        fc.stringMatching(/^[a-z0-9]{1,5}$/),
        fc.stringMatching(/^[a-z]{2,4}$/),
        fc.option(fc.nat(65535)),
      )
      .map(([a, b, port]) => `${a}.${b}${port === null ? "" : `:${port}`}`),
  );
  const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/);
  const digest = fc.stringMatching(/^[a-f0-9]{64}$/).map((h) => `sha256:${h}`);

  it("round-trips generated canonical references", () => {
    fc.assert(
      fc.property(registry, repository, fc.option(tag), fc.option(digest), (reg, repo, t, d) => {
        const text = `${reg}/${repo}${t === null ? (d === null ? ":latest" : "") : `:${t}`}${d === null ? "" : `@${d}`}`;
        assert.equal(formatReference(parseReference(text)), text);
      }),
    );
  });

  it("is idempotent on anything that parses", () => {
    fc.assert(
      fc.property(fc.oneof(repository, component), fc.option(tag), (repo, t) => {
        const once = formatReference(parseReference(t === null ? repo : `${repo}:${t}`));
        assert.equal(formatReference(parseReference(once)), once);
      }),
    );
  });

  it("never throws anything but InvalidArgument on random input", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        try {
          parseReference(s);
        } catch (err) {
          assert.ok(err instanceof ShimError && err.code === Code.InvalidArgument, String(err));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("registryHost and isLoopbackRegistry", () => {
  it("maps Docker Hub to its API host", () => {
    assert.equal(registryHost("docker.io"), "registry-1.docker.io");
    assert.equal(registryHost("ghcr.io"), "ghcr.io");
    assert.equal(registryHost("localhost:5000"), "localhost:5000");
  });

  it("knows loopback registries", () => {
    for (const r of [
      "localhost",
      "localhost:5000",
      "LOCALHOST:1",
      "127.0.0.1",
      "127.1.2.3:5000",
      "[::1]",
      "[::1]:5000",
    ]) {
      assert.equal(isLoopbackRegistry(r), true, r);
    }
    for (const r of [
      "docker.io",
      "128.0.0.1",
      "127.0.0",
      "127.0.0.256",
      "[::2]:5000",
      "localhost.example.com",
      "10.0.0.1",
    ]) {
      assert.equal(isLoopbackRegistry(r), false, r);
    }
  });
});

describe("parseSourceSpec", () => {
  it("splits oci: and oci-archive: at the first colon, as containers/image does", () => {
    assert.deepEqual(parseSourceSpec("oci:/tmp/layout"), { kind: "oci", path: "/tmp/layout" });
    assert.deepEqual(parseSourceSpec("oci:/tmp/layout:v1"), { kind: "oci", path: "/tmp/layout", tag: "v1" });
    assert.deepEqual(parseSourceSpec("oci:rel/dir:example.com/app:v1"), {
      kind: "oci",
      path: "rel/dir",
      tag: "example.com/app:v1",
    });
    assert.deepEqual(parseSourceSpec("oci-archive:/tmp/a.tar:latest"), {
      kind: "oci-archive",
      path: "/tmp/a.tar",
      tag: "latest",
    });
    assert.deepEqual(parseSourceSpec("oci-archive:a.tar"), { kind: "oci-archive", path: "a.tar" });
  });

  it("reads docker:// and plain references as registry sources", () => {
    const want = {
      kind: "registry",
      ref: { registry: "docker.io", repository: "library/hello", tag: "latest" },
    };
    assert.deepEqual(parseSourceSpec("docker://hello"), want);
    assert.deepEqual(parseSourceSpec("hello"), want);
    assert.equal(formatSourceSpec(parseSourceSpec("docker://hello")), "docker.io/library/hello:latest");
    assert.equal(formatSourceSpec(parseSourceSpec("oci:/x:t")), "oci:/x:t");
  });

  it("refuses empty paths and invalid ref names", () => {
    throwsInvalid(() => parseSourceSpec("oci:"), /no directory path/);
    throwsInvalid(() => parseSourceSpec("oci-archive::v1"), /no file path/);
    throwsInvalid(() => parseSourceSpec("oci:/tmp/x:bad tag"), /"bad tag" is not a valid image ref name/);
    throwsInvalid(() => parseSourceSpec("oci:/tmp/x:-v"), /not a valid image ref name/);
    throwsInvalid(() => parseSourceSpec("docker://"), /is empty/);
  });
});
