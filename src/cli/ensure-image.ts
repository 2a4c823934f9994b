/**
 * The first step of `nodewasi run`: make sure the shim's store has the image, per the pull policy, pulling
 * it through `nodewasi.v1.Images/Pull` with progress on stderr (bars on a terminal, lines otherwise), as
 * `nodewasi pull` shows it. The task is then created with policy NEVER, so the pull happens once, here.
 */
import type { Images, PullProgress as PullProgressMsg } from "../gen/index.js";
import { Code, type Digest, notFound, ShimError } from "../internal/index.js";
import type { Descriptor, Platform, PullEvent } from "../oci/index.js";
import type { Client } from "../rpc/index.js";
import type { CliContext } from "./context.js";
import type { PullProgress } from "./progress-lines.js";

export type PullPolicyName = "always" | "missing" | "never";

export interface EnsureImageOptions {
  /** The canonical reference (sourceName). */
  image: string;
  policy: PullPolicyName;
  platform?: string;
  plainHttp?: boolean;
  /** The registry timeout for the daemon's pull, in ms; unset leaves the daemon's default. */
  registryTimeoutMs?: number;
  /** Print progress on stderr (not with `-d`'s quiet output, for instance). */
  progress: boolean;
  signal?: AbortSignal;
}

/** Resolves once the image is in the shim's store; NotFound (exit 3) when `never` and it is not. */
export async function ensureImage(ctx: CliContext, images: Client<typeof Images>, o: EnsureImageOptions) {
  if (o.policy !== "always") {
    const found = await images.get({ name: o.image }, o.signal ? { signal: o.signal } : {}).then(
      (r) => r.image?.pulled !== undefined,
      (err: unknown) => {
        if (ShimError.from(err).code === Code.NotFound) return false;
        throw err;
      },
    );
    if (found) return;
    if (o.policy === "never") {
      throw notFound(`image ${o.image} is not in the store and --pull is never`, {
        details: { hint: `pull it first (\`nodewasi pull ${o.image}\`), or use --pull missing` },
      });
    }
  }
  const progress: PullProgress | undefined = o.progress
    ? ctx.stderrIsTTY
      ? (await import("./progress-bars.js")).createBarProgress(process.stderr)
      : (await import("./progress-lines.js")).createLineProgress(ctx.err)
    : undefined;
  try {
    const stream = images.pull(
      {
        reference: o.image,
        platform: o.platform ?? "",
        plainHttp: o.plainHttp ?? false,
        ...(o.registryTimeoutMs !== undefined ? { registryTimeoutMs: o.registryTimeoutMs } : {}),
      },
      o.signal ? { signal: o.signal } : {},
    );
    for await (const msg of stream) {
      const e = toPullEvent(msg);
      if (e) progress?.onEvent(e);
    }
    progress?.stop(true);
  } catch (err) {
    progress?.stop(false);
    throw err;
  }
}

const platformOf = (p: { os: string; architecture: string; variant: string } | undefined): Platform => ({
  os: p?.os ?? "",
  architecture: p?.architecture ?? "",
  ...(p?.variant ? { variant: p.variant } : {}),
});

const descriptorOf = (d: { mediaType: string; digest: string; size: bigint } | undefined): Descriptor => ({
  mediaType: d?.mediaType ?? "",
  digest: (d?.digest ?? "") as Digest,
  size: Number(d?.size ?? 0n),
});

/** A progress message as the `PullEvent` the renderers take; undefined for the final result. */
export function toPullEvent(msg: PullProgressMsg): PullEvent | undefined {
  const { event } = msg;
  switch (event.case) {
    case "resolved":
      return {
        type: "resolved",
        name: event.value.name,
        digest: event.value.digest as Digest,
        mediaType: event.value.mediaType,
      };
    case "selected":
      return {
        type: "selected",
        platform: platformOf(event.value.platform),
        format: event.value.format,
        manifest: descriptorOf(event.value.manifest),
        layers: event.value.layers.map(descriptorOf),
      };
    case "blobStart":
      return {
        type: "blob-start",
        digest: event.value.digest as Digest,
        size: Number(event.value.size),
        offset: Number(event.value.offset),
        mediaType: event.value.mediaType,
      };
    case "blobProgress":
      return {
        type: "blob-progress",
        digest: event.value.digest as Digest,
        size: Number(event.value.size),
        done: Number(event.value.done),
      };
    case "blobDone":
      return {
        type: "blob-done",
        digest: event.value.digest as Digest,
        size: Number(event.value.size),
        cached: event.value.cached,
      };
    case "blobRetry":
      return {
        type: "blob-retry",
        digest: event.value.digest as Digest,
        offset: Number(event.value.offset),
        attempt: event.value.attempt,
        delayMs: event.value.delayMs,
        reason: event.value.reason,
      };
    case "extracted":
      return {
        type: "extracted",
        module: event.value.module as Digest,
        size: Number(event.value.size),
        cached: event.value.cached,
      };
    case "waiting":
      return {
        type: "waiting",
        what: event.value.what,
        holder: event.value.holder,
        waitedMs: Number(event.value.waitedMs),
      };
    case "repaired":
      return {
        type: "repaired",
        path: event.value.path,
        problem: event.value.problem,
        action: event.value.action,
      };
    default:
      return undefined;
  }
}
