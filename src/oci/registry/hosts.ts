/**
 * Which hosts a registry client may speak plain HTTP to and which token realms it may call. The scheme rule
 * is go-containerregistry's `Registry.Scheme()` narrowed to loopback (RFC 1918 and `*.local` need
 * `--plain-http`), and the realm rule is its `validateRealmURL` SSRF guard: a 401 from a public registry must
 * not make us call a private or link-local address with credentials.
 */
import { isIP } from "node:net";
import { Code, ShimError } from "../../internal/index.js";
import { isLoopbackRegistry, registryHost } from "../reference.js";

/** Whether a bare hostname (no port; IPv6 with or without brackets) is this machine. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "");
  return isLoopbackRegistry(isIP(h) === 6 ? `[${h}]` : h);
}

/** Whether a hostname is an IP literal in a private, loopback, link-local or unspecified range. */
export function isPrivateAddress(hostname: string): boolean {
  let h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (mapped) h = mapped[1]!;
  const v = isIP(h);
  if (v === 4) {
    const [a, b] = h.split(".").map(Number) as [number, number];
    return (
      a === 10 ||
      a === 127 ||
      a === 0 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254)
    );
  }
  if (v === 6) return h === "::1" || h === "::" || /^fe[89ab]/.test(h) || /^f[cd]/.test(h);
  return false;
}

/**
 * The base URL of a registry's API: `https://registry-1.docker.io` for `docker.io`, plain `http://` for
 * loopback registries (as ggcr and `docker` treat localhost) or for every registry when `plainHttp` is set.
 */
export function registryBaseUrl(registry: string, plainHttp: boolean): URL {
  const scheme = plainHttp || isLoopbackRegistry(registry) ? "http" : "https";
  return new URL(`${scheme}://${registryHost(registry)}`);
}

/**
 * Checks a token realm from a `WWW-Authenticate` challenge before credentials are sent to it: https, or http
 * when `plainHttp` is set or the realm is on this machine; an IP literal in a private range only when it is
 * the registry's own host, or both are loopback. Throws `PermissionDenied` naming the realm.
 */
export function validateRealm(realm: string, registry: string, plainHttp: boolean): URL {
  const refuse = (why: string) =>
    new ShimError(
      Code.PermissionDenied,
      `registry ${registry} sent a token realm ${JSON.stringify(realm)} that nodewasi refuses: ${why}`,
    );
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw refuse("not a URL");
  }
  if (url.username || url.password) throw refuse("it carries credentials");
  if (url.protocol === "http:") {
    if (!plainHttp && !isLoopbackHost(url.hostname)) {
      throw refuse("plain http would expose credentials; use --plain-http only on a trusted network");
    }
  } else if (url.protocol !== "https:") {
    throw refuse("not an http(s) URL");
  }
  const registryHostname = new URL(`http://${registryHost(registry)}`).hostname;
  if (
    isPrivateAddress(url.hostname) &&
    url.hostname !== registryHostname &&
    !(isLoopbackHost(url.hostname) && isLoopbackHost(registryHostname))
  ) {
    throw refuse("a private or link-local address that is not the registry's own host");
  }
  return url;
}
