/**
 * Image references (`ghcr.io/org/app:v1`, `hello`, `localhost:5000/x@sha256:...`) parsed and normalised exactly
 * as distribution/reference does (reference.go grammar, normalize.go `ParseNormalizedNamed`), so a name means
 * the same image here as in docker, containerd and skopeo. Also the `oci:` / `oci-archive:` source names that
 * skopeo takes.
 */
import { type Digest, invalidArgument, parseDigest } from "../../internal/index.js";

export interface Reference {
  /** Registry host with optional port, `docker.io` for Docker Hub (never `index.docker.io`). */
  registry: string;
  /** Repository path, lowercase; Docker Hub official images get `library/`. */
  repository: string;
  /** `latest` when neither tag nor digest was given. */
  tag?: string;
  /** When present, the image is fetched by digest and the tag is informational only. */
  digest?: Digest;
}

/** The registry that `hello` and `user/app` live on. */
export const DOCKER_HUB = "docker.io";
const LEGACY_DOCKER_HUB = "index.docker.io";
const DOCKER_HUB_HOST = "registry-1.docker.io";
/** distribution/reference `RepositoryNameTotalLengthMax`. */
export const MAX_REPOSITORY_LENGTH = 255;

// The grammar of distribution/reference reference.go, one piece per line.
const ALNUM = "[a-z0-9]+";
const SEPARATOR = "(?:[._]|__|[-]+)";
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = "\\[(?:[a-fA-F0-9:]+)\\]";
const DOMAIN = `(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?`;
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;

const REFERENCE_RE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const DOMAIN_RE = new RegExp(`^${DOMAIN}$`);
const PATH_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG_RE = new RegExp(`^${TAG}$`);
const HEX64_RE = /^[a-f0-9]{64}$/;

/**
 * Parses a reference the way `docker pull` reads it. A name without a registry lives on Docker Hub (`hello` ->
 * `docker.io/library/hello:latest`); the first path component is a registry only when it is `localhost` or
 * contains `.` or `:` or an uppercase letter (normalize.go `splitDockerDomain`). Throws `InvalidArgument`
 * naming the input and what is wrong.
 */
export function parseReference(s: string): Reference {
  const bad = (why: string, hint = "") =>
    invalidArgument(`invalid image reference ${JSON.stringify(s)}: ${why}${hint && `; ${hint}`}`);
  if (s === "") throw bad("it is empty", "give a name such as docker.io/library/hello:latest");
  if (HEX64_RE.test(s))
    throw bad("a 64-character hex string is an image ID, not a name", "add sha256: and a repository");
  const { registry, remainder } = splitDomain(s);
  const remote = remainder.split(/[:@]/)[0]!;
  if (remote.toLowerCase() !== remote) {
    throw bad(`repository name ${JSON.stringify(remote)} must be lowercase`);
  }
  const m = REFERENCE_RE.exec(`${registry}/${remainder}`);
  if (!m) throw bad(...explainInvalid(registry, remainder));
  const repository = m[1]!.slice(registry.length + 1);
  if (repository.length > MAX_REPOSITORY_LENGTH) {
    throw bad(
      `repository name is ${repository.length} characters long, the limit is ${MAX_REPOSITORY_LENGTH}`,
    );
  }
  const ref: Reference = { registry, repository };
  if (m[3] !== undefined) ref.digest = parseDigest(m[3], `digest in image reference ${JSON.stringify(s)}`);
  if (m[2] !== undefined) ref.tag = m[2];
  else if (ref.digest === undefined) ref.tag = "latest";
  return ref;
}

function splitDomain(s: string): { registry: string; remainder: string } {
  const i = s.indexOf("/");
  let registry = DOCKER_HUB;
  let remainder = s;
  if (i >= 0) {
    const first = s.slice(0, i);
    if (/[.:]/.test(first) || first === "localhost" || first.toLowerCase() !== first) {
      registry = first;
      remainder = s.slice(i + 1);
    }
  }
  if (registry === LEGACY_DOCKER_HUB) registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !remainder.includes("/")) remainder = `library/${remainder}`;
  return { registry, remainder };
}

/** Says which part of a reference that failed the grammar is wrong, so the message can point at it. */
function explainInvalid(registry: string, remainder: string): [string, string] {
  if (!DOMAIN_RE.test(registry)) {
    return [
      `registry ${JSON.stringify(registry)} is not a host name with an optional port`,
      "e.g. ghcr.io or localhost:5000",
    ];
  }
  const at = remainder.indexOf("@");
  const nameTag = at >= 0 ? remainder.slice(0, at) : remainder;
  const colon = nameTag.indexOf(":");
  const path = colon >= 0 ? nameTag.slice(0, colon) : nameTag;
  if (!PATH_RE.test(path)) {
    return [
      `repository ${JSON.stringify(path)} is not valid`,
      "use lowercase letters, digits and single separators (. _ __ -) between them, in /-separated parts",
    ];
  }
  if (colon >= 0 && !TAG_RE.test(nameTag.slice(colon + 1))) {
    return [
      `tag ${JSON.stringify(nameTag.slice(colon + 1))} is not valid`,
      "a tag is 1-128 of [A-Za-z0-9_.-], not starting with . or -",
    ];
  }
  if (at >= 0)
    return [`digest ${JSON.stringify(remainder.slice(at + 1))} is not valid`, "want sha256:<64 hex>"];
  return ["it does not match the reference grammar name[:tag][@digest]", ""];
}

/**
 * The canonical text of a reference, as containerd stores image names: `docker.io/library/hello:latest`,
 * `name@sha256:...`, or `name:tag@sha256:...` when both are known. `parseReference` reads it back unchanged.
 */
export function formatReference(r: Reference): string {
  let s = `${r.registry}/${r.repository}`;
  if (r.tag !== undefined) s += `:${r.tag}`;
  if (r.digest !== undefined) s += `@${r.digest}`;
  return s;
}

/**
 * The host to send HTTP requests to: Docker Hub's API lives on `registry-1.docker.io` (containerd
 * `config/hosts.go` `DefaultHost`); every other registry is its own host.
 */
export function registryHost(registry: string): string {
  return registry === DOCKER_HUB || registry === LEGACY_DOCKER_HUB ? DOCKER_HUB_HOST : registry;
}

/**
 * Whether a registry is on this machine (`localhost`, `127.0.0.0/8`, `[::1]`, with or without a port), where
 * plain HTTP is the default, as go-containerregistry `Registry.Scheme()` and containerd's hosts config allow.
 */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith("[")
    ? registry.slice(0, registry.indexOf("]") + 1)
    : registry.split(":")[0]!;
  const h = host.toLowerCase();
  if (h === "localhost" || h === "[::1]") return true;
  const octets = h.split(".");
  return (
    octets.length === 4 &&
    octets[0] === "127" &&
    octets.every((o) => /^(?:0|[1-9][0-9]{0,2})$/.test(o) && Number(o) <= 255)
  );
}

/** Where to pull from: a registry, an OCI layout directory or an OCI layout tar archive. */
export type ImageSourceSpec =
  | { kind: "registry"; ref: Reference }
  | { kind: "oci"; path: string; tag?: string }
  | { kind: "oci-archive"; path: string; tag?: string };

// containers/image oci/internal/oci_util.go: the ref-name grammar of org.opencontainers.image.ref.name.
const OCI_REF_NAME_RE =
  /^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:\/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$/;

/**
 * Parses a source name as skopeo does: `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`, `docker://REF` or a plain
 * reference. Like containers/image `SplitPathAndImage` (non-Windows), the path ends at the FIRST colon, so a
 * path cannot contain `:` and the ref may (`oci:/tmp/l:example.com/app:v1`); the ref must match the
 * `org.opencontainers.image.ref.name` grammar. Without a ref, the layout must hold exactly one image.
 */
export function parseSourceSpec(s: string): ImageSourceSpec {
  for (const kind of ["oci-archive", "oci"] as const) {
    if (!s.startsWith(`${kind}:`)) continue;
    const rest = s.slice(kind.length + 1);
    const colon = rest.indexOf(":");
    const path = colon >= 0 ? rest.slice(0, colon) : rest;
    const tag = colon >= 0 ? rest.slice(colon + 1) : "";
    const what = kind === "oci" ? "directory" : "file";
    if (path === "") {
      throw invalidArgument(
        `invalid image source ${JSON.stringify(s)}: no ${what} path; write ${kind}:PATH[:TAG]`,
      );
    }
    if (tag !== "" && !OCI_REF_NAME_RE.test(tag)) {
      throw invalidArgument(
        `invalid image source ${JSON.stringify(s)}: ${JSON.stringify(tag)} is not a valid image ref name ` +
          `(letters, digits and - . _ : @ + between them); paths cannot contain ":"`,
      );
    }
    return tag === "" ? { kind, path } : { kind, path, tag };
  }
  const ref = s.startsWith("docker://") ? s.slice("docker://".length) : s;
  return { kind: "registry", ref: parseReference(ref) };
}

/** A source spec as a human reads it in messages: `docker.io/library/x:latest`, `oci:/tmp/l:v1`. */
export function formatSourceSpec(spec: ImageSourceSpec): string {
  if (spec.kind === "registry") return formatReference(spec.ref);
  return `${spec.kind}:${spec.path}${spec.tag === undefined ? "" : `:${spec.tag}`}`;
}
