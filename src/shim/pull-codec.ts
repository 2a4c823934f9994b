/**
 * The one translation between oci's pull (`PullPolicy`, `PullEvent`, `PullResult`) and the nodewasi.v1
 * messages of `Images.Pull`: the Images service reads its request's policy and writes events and the result
 * into the stream; the CLI writes its --pull into the request and reads the stream's events back for its
 * progress bars and lines; task setup reads `CreateOptions.pull_policy`. Both ends import this file, so a field
 * added on one is added on the other.
 *
 * 64-bit sizes travel as uint64 (`bigint` here) and come back as numbers; `blob-retry`'s `delayMs` and
 * `waiting`'s `waitedMs` travel as whole milliseconds. A descriptor's `urls` and a platform's `features` have no
 * field in the messages, and are left out.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type Descriptor as DescriptorMessage,
  type Platform as PlatformMessage,
  type PlatformSchema,
  PullPolicy as PullPolicyMsg,
  type PullProgress,
  type PullProgressSchema,
  type PullResultSchema,
} from "../gen/index.js";
import type { Digest } from "../internal/index.js";
import type { Descriptor, Platform, PullEvent, PullPolicy, PullResult } from "../oci/index.js";

/** oci's pull policy and its nodewasi.v1 enum value, each way. */
const POLICY_MSG: Readonly<Record<PullPolicy, PullPolicyMsg>> = {
  missing: PullPolicyMsg.MISSING,
  always: PullPolicyMsg.ALWAYS,
  never: PullPolicyMsg.NEVER,
};

/** The enum value of a pull policy. */
export function pullPolicyMsg(policy: PullPolicy): PullPolicyMsg {
  return POLICY_MSG[policy];
}

/**
 * The pull policy a message asks for: `unset` when the field is unset (`PullRequest.policy`: `always`) or holds
 * a value this version does not know (proto3 enums are open: a newer client may send one).
 */
export function pullPolicyOf(msg: PullPolicyMsg | undefined, unset: PullPolicy): PullPolicy {
  const known = (Object.keys(POLICY_MSG) as PullPolicy[]).find((p) => POLICY_MSG[p] === msg);
  return known ?? unset;
}

const platformMsg = (p: Platform): MessageInitShape<typeof PlatformSchema> => ({
  os: p.os,
  architecture: p.architecture,
  variant: p.variant ?? "",
  osVersion: p["os.version"] ?? "",
  osFeatures: p["os.features"] ?? [],
});

/** A descriptor as its message (also what the Images service's List and Get answer). */
export const descriptorMsg = (d: Descriptor) => ({
  mediaType: d.mediaType,
  digest: d.digest,
  size: BigInt(d.size),
  annotations: d.annotations ?? {},
  ...(d.platform ? { platform: platformMsg(d.platform) } : {}),
  artifactType: d.artifactType ?? "",
});

/** An empty string or list is an absent optional field (proto3 has no presence for them). */
const platformOf = (p: PlatformMessage | undefined): Platform => ({
  os: p?.os ?? "",
  architecture: p?.architecture ?? "",
  ...(p?.variant ? { variant: p.variant } : {}),
  ...(p?.osVersion ? { "os.version": p.osVersion } : {}),
  ...(p?.osFeatures.length ? { "os.features": p.osFeatures } : {}),
});

const descriptorOf = (d: DescriptorMessage | undefined): Descriptor => ({
  mediaType: d?.mediaType ?? "",
  digest: (d?.digest ?? "") as Digest,
  size: Number(d?.size ?? 0n),
  ...(d && Object.keys(d.annotations).length ? { annotations: { ...d.annotations } } : {}),
  ...(d?.platform ? { platform: platformOf(d.platform) } : {}),
  ...(d?.artifactType ? { artifactType: d.artifactType } : {}),
});

/** A pull result as its message. */
export function pullResultMsg(r: PullResult): MessageInitShape<typeof PullResultSchema> {
  return {
    name: r.name,
    digest: r.digest,
    mediaType: r.mediaType,
    manifest: descriptorMsg(r.manifest),
    platform: platformMsg(r.platform),
    format: r.format,
    formatDescription: r.formatDescription,
    module: { ...r.module, size: BigInt(r.module.size) },
    rootfs: r.rootfs ?? "",
    entrypoint: r.entrypoint,
    env: r.env,
    workingDir: r.workingDir,
    bytesFetched: BigInt(r.bytesFetched),
  };
}

/** A pull event as its progress message. */
export function progressMsg(e: PullEvent): MessageInitShape<typeof PullProgressSchema> {
  return { event: progressEvent(e) };
}

/** The `event` oneof of `progressMsg`. */
function progressEvent(e: PullEvent): NonNullable<MessageInitShape<typeof PullProgressSchema>["event"]> {
  switch (e.type) {
    case "resolved":
      return { case: "resolved", value: { name: e.name, digest: e.digest, mediaType: e.mediaType } };
    case "selected": {
      const [manifest, layers] = [descriptorMsg(e.manifest), e.layers.map(descriptorMsg)];
      return {
        case: "selected",
        value: { platform: platformMsg(e.platform), format: e.format, manifest, layers },
      };
    }
    case "blob-start": {
      const [size, offset] = [BigInt(e.size), BigInt(e.offset)];
      return { case: "blobStart", value: { digest: e.digest, size, offset, mediaType: e.mediaType } };
    }
    case "blob-progress":
      return {
        case: "blobProgress",
        value: { digest: e.digest, size: BigInt(e.size), done: BigInt(e.done) },
      };
    case "blob-done":
      return { case: "blobDone", value: { digest: e.digest, size: BigInt(e.size), cached: e.cached } };
    case "blob-retry": {
      const [offset, delayMs] = [BigInt(e.offset), Math.round(e.delayMs)];
      return {
        case: "blobRetry",
        value: { digest: e.digest, offset, attempt: e.attempt, delayMs, reason: e.reason },
      };
    }
    case "extracted":
      return { case: "extracted", value: { module: e.module, size: BigInt(e.size), cached: e.cached } };
    case "waiting": {
      const waitedMs = BigInt(Math.round(e.waitedMs));
      return { case: "waiting", value: { what: e.what, holder: e.holder, waitedMs } };
    }
    case "repaired":
      return { case: "repaired", value: { path: e.path, problem: e.problem, action: e.action } };
  }
}

/** A progress message as the `PullEvent` it carries; undefined for the final `result` (and an unset event). */
export function pullEventOf(msg: PullProgress): PullEvent | undefined {
  const { case: kind, value: v } = msg.event;
  switch (kind) {
    case "resolved":
      return { type: "resolved", name: v.name, digest: v.digest as Digest, mediaType: v.mediaType };
    case "selected":
      return {
        type: "selected",
        platform: platformOf(v.platform),
        format: v.format,
        manifest: descriptorOf(v.manifest),
        layers: v.layers.map(descriptorOf),
      };
    case "blobStart": {
      const [size, offset] = [Number(v.size), Number(v.offset)];
      return { type: "blob-start", digest: v.digest as Digest, size, offset, mediaType: v.mediaType };
    }
    case "blobProgress":
      return {
        type: "blob-progress",
        digest: v.digest as Digest,
        size: Number(v.size),
        done: Number(v.done),
      };
    case "blobDone":
      return { type: "blob-done", digest: v.digest as Digest, size: Number(v.size), cached: v.cached };
    case "blobRetry": {
      const { attempt, delayMs, reason } = v;
      return {
        type: "blob-retry",
        digest: v.digest as Digest,
        offset: Number(v.offset),
        attempt,
        delayMs,
        reason,
      };
    }
    case "extracted":
      return { type: "extracted", module: v.module as Digest, size: Number(v.size), cached: v.cached };
    case "waiting":
      return { type: "waiting", what: v.what, holder: v.holder, waitedMs: Number(v.waitedMs) };
    case "repaired":
      return { type: "repaired", path: v.path, problem: v.problem, action: v.action };
    default:
      return undefined;
  }
}
