/**
 * Which hosts a registry client may speak plain HTTP to and which token realms it may call. The scheme rule
 * is go-containerregistry's `Registry.Scheme()` narrowed to loopback (RFC 1918 and `*.local` need
 * `--plain-http`), and the realm rule is its `validateRealmURL` SSRF guard: a 401 from a public registry must
 * not make us call a private or link-local address with credentials.
 */
import { isIP } from "node:net";
import { Code, ShimError } from "../../internal/index.js";
import { isLoopbackRegistry, registryHost } from "../image/index.js";

/** Whether a bare hostname (no port; IPv6 with or without brackets) is this machine. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "");
  return isLoopbackRegistry(isIP(h) === 6 ? `[${h}]` : h);
}

/**
 * Whether a hostname is `localhost` (or under `.localhost`) or an IP literal in a private, loopback,
 * link-local, carrier-grade NAT or unspecified range, IPv4-mapped IPv6 included.
 */
export function isPrivateAddress(hostname: string): boolean {
  let h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  // IPv4-mapped IPv6, dotted or as the URL parser writes it (`[::ffff:169.254.169.254]` -> `::ffff:a9fe:a9fe`).
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  const mappedHex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(h);
  if (mapped) h = mapped[1]!;
  else if (mappedHex) {
    const [hi, lo] = [Number.parseInt(mappedHex[1]!, 16), Number.parseInt(mappedHex[2]!, 16)];
    h = `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  const v = isIP(h);
  if (v === 4) {
    const [a, b] = h.split(".").map(Number) as [number, number];
    return (
      a === 10 ||
      a === 127 ||
      a === 0 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254) ||
      (a === 100 && b >= 64 && b <= 127) // carrier-grade NAT, where some clouds keep their metadata service
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
  const registryHostname = new URL(`http://${registryHost(registry)}`).hostname;
  if (url.protocol === "http:") {
    if (!plainHttp && !(isLoopbackHost(url.hostname) && isLoopbackHost(registryHostname))) {
      throw refuse("plain http would expose credentials; use --plain-http only on a trusted network");
    }
  } else if (url.protocol !== "https:") {
    throw refuse("not an http(s) URL");
  }
  if (
    isPrivateAddress(url.hostname) &&
    url.hostname !== registryHostname &&
    !(isLoopbackHost(url.hostname) && isLoopbackHost(registryHostname))
  ) {
    throw refuse("a private or link-local address that is not the registry's own host");
  }
  return url;
}

/**
 * Why a redirect from `from` to `to` must not be followed, or undefined: not http(s), credentials in the URL,
 * a downgrade from https to plain http (unless `plainHttp`, or to this machine), or a public host pointing at
 * a private or loopback address (the realm SSRF guard, for redirects: cloud metadata, a local socket proxy).
 */
export function redirectRefusal(from: URL, to: URL, plainHttp: boolean): string | undefined {
  if (to.protocol !== "https:" && to.protocol !== "http:") return "not an http(s) URL";
  if (to.username || to.password) return "the URL carries credentials";
  if (from.protocol === "https:" && to.protocol === "http:" && !plainHttp && !isLoopbackHost(to.hostname)) {
    return "it downgrades https to plain http; use --plain-http if you trust this network";
  }
  if (isPrivateAddress(to.hostname) && !isPrivateAddress(from.hostname)) {
    return "a public host may not redirect to a private or loopback address";
  }
  return undefined;
}
