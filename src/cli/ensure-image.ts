/**
 * The first step of `nodewasi run`: one `nodewasi.v1.Images/Pull` with the run's --pull policy, which the
 * shim's pull answers (src/oci/pull/pull.ts): from its store when the policy allows and the image is there (the
 * stream is then the result alone, and no progress is shown), else from the source with progress on stderr
 * (bars on a terminal, lines otherwise), as `nodewasi pull` shows it. The task is then created with policy
 * NEVER, so the pull happens once, here.
 */
import type { Images } from "../gen/index.js";
import { Code, notFound, ShimError } from "../internal/index.js";
import type { PullPolicy } from "../oci/index.js";
import type { Client } from "../rpc/index.js";
import { pullEventOf, pullPolicyMsg } from "../shim/index.js";
import type { CliContext } from "./context.js";
import type { PullProgress } from "./progress-lines.js";

export interface EnsureImageOptions {
  /** The canonical reference (sourceName). */
  image: string;
  policy: PullPolicy;
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
  // Made at the first progress message: a stored image's answer has none, and shows nothing.
  let progress: PullProgress | undefined;
  try {
    const stream = images.pull(
      {
        reference: o.image,
        platform: o.platform ?? "",
        plainHttp: o.plainHttp ?? false,
        policy: pullPolicyMsg(o.policy),
        ...(o.registryTimeoutMs !== undefined ? { registryTimeoutMs: o.registryTimeoutMs } : {}),
      },
      o.signal ? { signal: o.signal } : {},
    );
    for await (const msg of stream) {
      const e = pullEventOf(msg);
      if (!e || !o.progress) continue;
      progress ??= ctx.stderrIsTTY
        ? (await import("./progress-bars.js")).createBarProgress(process.stderr)
        : (await import("./progress-lines.js")).createLineProgress(ctx.err);
      progress.onEvent(e);
    }
    progress?.stop(true);
  } catch (err) {
    progress?.stop(false);
    // With `never` the pull goes nowhere but the store, so NotFound is the image's absence: said in the words
    // of this command's flags.
    if (o.policy === "never" && ShimError.from(err).code === Code.NotFound) {
      throw notFound(`image ${o.image} is not in the store and --pull is never`, {
        cause: err,
        details: { hint: `pull it first (\`nodewasi pull ${o.image}\`), or use --pull missing` },
      });
    }
    throw err;
  }
}
