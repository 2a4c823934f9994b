/**
 * Manifests, indexes and image configs parsed from bytes a registry or a layout handed us: size-capped, JSON
 * checked field by field, media type agreed between body and Content-Type (distribution-spec "content
 * negotiation"; reference section 2g, 3.3). Nothing is trusted by cast: every descriptor is validated before
 * its digest is used to fetch or name a file.
 */
import { Code, invalidArgument, parseDigest, ShimError } from "../../internal/index.js";
import { isIndexType, isManifestType, MediaType } from "./media-types.js";
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest, Platform } from "./types.js";

/** containerd, oras-go and the distribution spec's guidance all cap manifests at about 4 MiB. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Configs carry history and can be larger; regclient reads up to 8 MiB. */
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

export type ParsedManifest =
  | { kind: "index"; mediaType: string; index: ImageIndex }
  | { kind: "manifest"; mediaType: string; manifest: ImageManifest };

const SCHEMA1 =
  "Docker schema 1 manifests are not supported; re-push the image with a current Docker or skopeo " +
  "(skopeo copy converts it)";
/** Content-Types that say nothing about the manifest (static file servers, OCI layouts): trust the body. */
const NEUTRAL_CONTENT_TYPES = ["", "application/json", "text/plain", "application/octet-stream"];

type Json = Record<string, unknown>;

/**
 * Parses a manifest or index. `where` names it in messages (`manifest sha256:... of ghcr.io/x:1`).
 * Throws `ResourceExhausted` over `maxBytes` (default `MAX_MANIFEST_BYTES`; the store's own index.json, which
 * grows with every name, has a larger one), `FailedPrecondition` for schema 1 and unknown types, and
 * `InvalidArgument` for anything malformed.
 */
export function parseManifest(
  bytes: Uint8Array,
  contentType: string | undefined,
  where: string,
  maxBytes = MAX_MANIFEST_BYTES,
): ParsedManifest {
  if (bytes.length > maxBytes) {
    throw new ShimError(
      Code.ResourceExhausted,
      `${where} is ${bytes.length} bytes, over the ${maxBytes}-byte manifest limit; refusing it`,
    );
  }
  const ct = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (ct === MediaType.DockerSchema1 || ct === MediaType.DockerSchema1Signed) throw refuse(where, SCHEMA1);
  const body = parseJsonObject(bytes, where);
  if (body.schemaVersion === 1) throw refuse(where, SCHEMA1);
  if (body.schemaVersion !== 2) {
    throw invalidArgument(`${where}: schemaVersion is ${shown(body.schemaVersion)}, want 2`);
  }
  const declared = optString(body, "mediaType", where);
  if (declared === MediaType.DockerSchema1 || declared === MediaType.DockerSchema1Signed)
    throw refuse(where, SCHEMA1);

  const ctKnown = isIndexType(ct) || isManifestType(ct);
  if (!ctKnown && !NEUTRAL_CONTENT_TYPES.includes(ct)) {
    throw refuse(where, `served as ${clip(ct)}, which is not an OCI or Docker manifest or index type`);
  }
  if (declared !== undefined && ctKnown && declared !== ct) {
    throw invalidArgument(
      `${where}: body says mediaType ${clip(declared)} but it was served as ${ct}; refusing the mismatch`,
    );
  }
  const mediaType = declared ?? (ctKnown ? ct : inferMediaType(body, where));
  if (isIndexType(mediaType)) return { kind: "index", mediaType, index: toIndex(body, mediaType, where) };
  if (isManifestType(mediaType))
    return { kind: "manifest", mediaType, manifest: toManifest(body, mediaType, where) };
  throw refuse(where, `mediaType ${clip(mediaType)} is not an OCI or Docker manifest or index`);
}

function refuse(where: string, why: string): ShimError {
  return new ShimError(Code.FailedPrecondition, `${where}: ${why}`);
}

/** image-spec: without a mediaType, `manifests` means an index and `config` + `layers` a manifest. */
function inferMediaType(body: Json, where: string): string {
  const isIndex = "manifests" in body;
  const isManifest = "config" in body || "layers" in body;
  if (isIndex && !isManifest) return MediaType.OciIndex;
  if (isManifest && !isIndex) return MediaType.OciManifest;
  throw invalidArgument(
    `${where}: no mediaType, and the body ${isIndex ? "has both manifests and config/layers" : "has neither manifests nor config/layers"}; ` +
      "cannot tell an index from a manifest",
  );
}

function toIndex(body: Json, mediaType: string, where: string): ImageIndex {
  if (!Array.isArray(body.manifests)) throw invalidArgument(`${where}: index has no manifests array`);
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType,
    manifests: body.manifests.map((d, i) => parseDescriptor(d, `${where} manifests[${i}]`)),
  };
  copyCommon(body, index, where);
  return index;
}

function toManifest(body: Json, mediaType: string, where: string): ImageManifest {
  if (body.config === undefined) throw invalidArgument(`${where}: manifest has no config descriptor`);
  if (!Array.isArray(body.layers)) throw invalidArgument(`${where}: manifest has no layers array`);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType,
    config: parseDescriptor(body.config, `${where} config`),
    layers: body.layers.map((d, i) => parseDescriptor(d, `${where} layers[${i}]`)),
  };
  copyCommon(body, manifest, where);
  return manifest;
}

function copyCommon(body: Json, into: ImageIndex | ImageManifest, where: string): void {
  const artifactType = optString(body, "artifactType", where);
  if (artifactType !== undefined) into.artifactType = artifactType;
  if (body.subject !== undefined) into.subject = parseDescriptor(body.subject, `${where} subject`);
  const annotations = optStringMap(body, "annotations", where);
  if (annotations) into.annotations = annotations;
}

/**
 * Validates one descriptor: a non-empty mediaType, a sha256 digest, a non-negative safe-integer size, and the
 * optional fields typed. Unknown fields are dropped (image-spec: they MUST be ignored).
 */
export function parseDescriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) throw invalidArgument(`${where}: descriptor is not a JSON object`);
  const mediaType = v.mediaType;
  if (typeof mediaType !== "string" || mediaType === "") {
    throw invalidArgument(`${where}: descriptor mediaType is missing or not a string`);
  }
  if (typeof v.digest !== "string")
    throw invalidArgument(`${where}: descriptor digest is missing or not a string`);
  const digest = parseDigest(v.digest, `${where} digest`);
  const size = v.size;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw invalidArgument(`${where}: descriptor size ${shown(size)} is not a non-negative integer`);
  }
  const d: Descriptor = { mediaType, digest, size };
  if (v.urls !== undefined) d.urls = stringArray(v.urls, `${where} urls`);
  const annotations = optStringMap(v, "annotations", where);
  if (annotations) d.annotations = annotations;
  if (v.platform !== undefined) d.platform = parsePlatformObject(v.platform, `${where} platform`);
  const artifactType = optString(v, "artifactType", where);
  if (artifactType !== undefined) d.artifactType = artifactType;
  return d;
}

function parsePlatformObject(v: unknown, where: string): Platform {
  if (!isObject(v) || typeof v.os !== "string" || typeof v.architecture !== "string") {
    throw invalidArgument(`${where}: want an object with string os and architecture`);
  }
  const p: Platform = { os: v.os, architecture: v.architecture };
  const variant = optString(v, "variant", where);
  if (variant !== undefined) p.variant = variant;
  const osVersion = optString(v, "os.version", where);
  if (osVersion !== undefined) p["os.version"] = osVersion;
  if (v["os.features"] !== undefined)
    p["os.features"] = stringArray(v["os.features"], `${where} os.features`);
  if (v.features !== undefined) p.features = stringArray(v.features, `${where} features`);
  return p;
}

/**
 * Parses an image config (OCI, Docker, or the CNCF/wasm-to-oci wasm configs). Only the fields nodewasi reads
 * are checked and kept; a field of the wrong type is `InvalidArgument` naming it; unknown fields are ignored.
 */
export function parseImageConfig(bytes: Uint8Array, where: string): ImageConfig {
  if (bytes.length > MAX_CONFIG_BYTES) {
    throw new ShimError(
      Code.ResourceExhausted,
      `${where} is ${bytes.length} bytes, over the ${MAX_CONFIG_BYTES}-byte config limit`,
    );
  }
  const body = parseJsonObject(bytes, where);
  const c: ImageConfig = {};
  for (const key of ["architecture", "os", "variant", "os.version", "created"] as const) {
    const v = optString(body, key, where);
    if (v !== undefined) c[key] = v;
  }
  if (body.config !== undefined && body.config !== null) {
    if (!isObject(body.config)) throw invalidArgument(`${where}: config is not a JSON object`);
    const src = body.config;
    const run: NonNullable<ImageConfig["config"]> = {};
    for (const key of ["Entrypoint", "Cmd", "Env"] as const) {
      if (src[key] === null) run[key] = null;
      else if (src[key] !== undefined) run[key] = stringArray(src[key], `${where} config.${key}`);
    }
    const wd = optString(src, "WorkingDir", `${where} config`);
    if (wd !== undefined) run.WorkingDir = wd;
    if (src.Labels === null) run.Labels = null;
    else {
      const labels = optStringMap(src, "Labels", `${where} config`);
      if (labels) run.Labels = labels;
    }
    c.config = run;
  }
  if (isObject(body.rootfs) && typeof body.rootfs.type === "string") {
    c.rootfs = {
      type: body.rootfs.type,
      diff_ids: stringArray(body.rootfs.diff_ids ?? [], `${where} rootfs.diff_ids`),
    };
  }
  if (body.layerDigests !== undefined)
    c.layerDigests = stringArray(body.layerDigests, `${where} layerDigests`);
  if (body.component === null) c.component = null;
  else if (body.component !== undefined) {
    if (!isObject(body.component)) throw invalidArgument(`${where}: component is not a JSON object or null`);
    const comp: NonNullable<ImageConfig["component"]> = {};
    const src = body.component;
    if (src.exports !== undefined) comp.exports = stringArray(src.exports, `${where} component.exports`);
    if (src.imports !== undefined) comp.imports = stringArray(src.imports, `${where} component.imports`);
    // rust-oci-wasm serializes an absent target as null (`Option<String>` without skip_serializing_if).
    const target = src.target === null ? undefined : optString(src, "target", `${where} component`);
    if (target !== undefined) comp.target = target;
    c.component = comp;
  }
  return c;
}

/**
 * The type an artifact declares: `artifactType`, else `config.mediaType` (image-spec manifest.md implementer
 * note), used to describe and classify an image.
 */
export function manifestArtifactType(m: ImageManifest): string {
  return m.artifactType ?? m.config.mediaType;
}

function parseJsonObject(bytes: Uint8Array, where: string): Json {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (err) {
    throw invalidArgument(`${where} is not valid UTF-8`, { cause: err });
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`${where} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(v)) throw invalidArgument(`${where} is JSON but not an object`);
  return v;
}

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A value from hostile JSON as an error message shows it: at most 80 characters. */
function shown(v: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    // JSON.parse takes any depth; JSON.stringify overflows the stack on a few thousand levels.
    text = Array.isArray(v)
      ? "[[[...]]] (an array nested too deep to show)"
      : "{...} (nested too deep to show)";
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** A string from hostile input as a message shows it: at most 80 characters, so a 4 MiB value stays readable. */
function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function optString(o: Json, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw invalidArgument(`${where}: ${key} is ${shown(v)}, want a string`);
  return v;
}

function stringArray(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) {
    throw invalidArgument(`${where}: want an array of strings`);
  }
  return [...v];
}

function optStringMap(o: Json, key: string, where: string): Record<string, string> | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!isObject(v) || !Object.values(v).every((s) => typeof s === "string")) {
    throw invalidArgument(`${where}: ${key} must be an object of strings`);
  }
  // Spread defines own properties, so a "__proto__" key from hostile JSON stays plain data.
  return { ...(v as Record<string, string>) };
}
