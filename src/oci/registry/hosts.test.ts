import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, type ShimError } from "../../internal/index.js";
import {
  isLoopbackHost,
  isPrivateAddress,
  redirectRefusal,
  registryBaseUrl,
  validateRealm,
} from "./hosts.js";

describe("hosts", () => {
  it("uses https except for loopback registries or plainHttp", () => {
    assert.equal(registryBaseUrl("ghcr.io", false).href, "https://ghcr.io/");
    assert.equal(registryBaseUrl("docker.io", false).href, "https://registry-1.docker.io/");
    assert.equal(registryBaseUrl("localhost:5000", false).href, "http://localhost:5000/");
    assert.equal(registryBaseUrl("127.0.0.1:5000", false).href, "http://127.0.0.1:5000/");
    assert.equal(registryBaseUrl("[::1]:5000", false).href, "http://[::1]:5000/");
    assert.equal(registryBaseUrl("10.1.2.3:5000", false).href, "https://10.1.2.3:5000/");
    assert.equal(registryBaseUrl("reg.lan:5000", true).href, "http://reg.lan:5000/");
  });

  it("classifies addresses", () => {
    assert.equal(isLoopbackHost("[::1]"), true);
    assert.equal(isLoopbackHost("::1"), true);
    assert.equal(isLoopbackHost("127.0.0.2"), true);
    assert.equal(isLoopbackHost("example.com"), false);
    for (const h of [
      "10.0.0.1",
      "172.16.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "[fe80::1]",
      "fd00::1",
      "::ffff:10.0.0.1",
      "[::ffff:a9fe:a9fe]",
      "::ffff:7f00:1",
      "100.100.100.200",
      "localhost",
      "api.localhost",
    ]) {
      assert.equal(isPrivateAddress(h), true, h);
    }
    for (const h of ["8.8.8.8", "172.32.0.1", "auth.docker.io", "[2001:db8::1]"])
      assert.equal(isPrivateAddress(h), false, h);
  });

  it("accepts https realms and refuses http, other schemes and private IPs", () => {
    assert.equal(validateRealm("https://auth.docker.io/token", "docker.io", false).host, "auth.docker.io");
    assert.equal(validateRealm("http://127.0.0.1:9/token", "127.0.0.1:5000", false).port, "9");
    assert.equal(validateRealm("http://localhost:9/token", "127.0.0.1:5000", false).hostname, "localhost");
    assert.equal(validateRealm("https://10.0.0.5/token", "10.0.0.5:5000", false).hostname, "10.0.0.5");
    assert.equal(validateRealm("http://reg.lan/token", "reg.lan", true).hostname, "reg.lan");
    const refused = (realm: string, registry: string, plain = false) =>
      assert.throws(
        () => validateRealm(realm, registry, plain),
        (e: ShimError) => e.code === Code.PermissionDenied && e.message.includes(registry),
      );
    refused("http://auth.example.com/token", "example.com");
    refused("ftp://auth.example.com/token", "example.com");
    refused("https://169.254.169.254/latest/meta-data", "ghcr.io");
    refused("https://127.0.0.1/token", "ghcr.io");
    refused("https://user:pw@auth.example.com/", "example.com");
    refused("not a url", "example.com");
    // Found in review: each of these was accepted for a public registry.
    refused("http://localhost:2375/x", "ghcr.io");
    refused(new URL("https://[::ffff:169.254.169.254]/latest/meta-data").href, "ghcr.io");
    refused("https://[::ffff:7f00:1]/", "ghcr.io");
    refused("https://100.100.100.200/", "ghcr.io");
  });

  it("refuses redirects that leave http(s), downgrade, or go from a public host to a private one", () => {
    const r = (from: string, to: string, plain = false) => redirectRefusal(new URL(from), new URL(to), plain);
    assert.equal(r("https://ghcr.io/v2/x", "https://pkg-containers.githubusercontent.com/blob"), undefined);
    assert.equal(r("http://127.0.0.1:5000/v2/x", "http://127.0.0.1:6000/blob"), undefined);
    assert.match(r("https://ghcr.io/v2/x", "http://cdn.example.com/b") ?? "", /downgrades/);
    assert.equal(r("https://ghcr.io/v2/x", "http://cdn.example.com/b", true), undefined);
    assert.match(r("https://ghcr.io/v2/x", "http://127.0.0.1:2375/containers") ?? "", /private or loopback/);
    assert.match(r("https://ghcr.io/v2/x", "https://169.254.169.254/latest") ?? "", /private or loopback/);
    assert.match(r("https://ghcr.io/v2/x", "file:///etc/passwd") ?? "", /not an http/);
  });
});
