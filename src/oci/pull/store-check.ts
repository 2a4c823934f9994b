/**
 * `nodewasi check`: verifies a whole content store, as `git fsck`, `podman system check` and containerd's
 * content verification do: index.json, what dead processes left, every blob and module (each must hash to its
 * name), every pull record and the rootfs it names, and what every name reaches.
 *
 * Like podman's, it reports by default and repairs when asked (`repair`): a damaged index.json is rebuilt (from
 * its backup, then the pull records: store-index.ts); leftovers, damaged blobs and damaged modules are removed,
 * a damaged module with the rootfs it shares its inode with and the record naming them; then every image that
 * lost its module or rootfs is extracted again from the blobs the store still holds, without the network. An
 * image whose blobs are gone cannot be rebuilt here: it is listed to be pulled again.
 *
 * Not checked: the files of a rootfs other than the module (the store keeps no digest of them; a pull that
 * finds the module damaged unpacks the whole rootfs again). The check takes no store-wide lock: it reads only
 * complete content (everything enters by rename) and repairs by rename, so pulls and runs go on meanwhile.
 */
import { readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Code, type Digest, isDigest, ShimError } from "../../internal/index.js";
import { Annotation } from "../image/index.js";
import type { ContentStore, PullResult } from "../store/index.js";
import {
  entryName,
  findLeftovers,
  imageGraph,
  rebuildIndex,
  removeLeftovers,
  verifyFile,
} from "../store/index.js";
import { openedLayoutSource } from "./layout-source.js";
import { pullFrom } from "./pull.js";

/** One thing found wrong. */
export interface CheckProblem {
  kind: "index" | "leftover" | "blob" | "module" | "record" | "image";
  /** The file or folder, or the image name for `image`. */
  path: string;
  /** What is wrong with it. */
  problem: string;
  /** What a repair does (or did) about it. */
  fix: string;
  /** Whether this run repaired it. */
  repaired: boolean;
}

/** What a check found. */
export interface CheckReport {
  checked: { blobs: number; modules: number; records: number; images: number; bytes: number };
  problems: CheckProblem[];
  /** Names whose content is gone and that only a pull from their source can bring back. */
  pullAgain: string[];
}

export interface CheckOptions {
  /** Repair what can be repaired (default: report only). */
  repair?: boolean;
  /** Told of each problem as it is found (for progress on a large store). */
  onProblem?: (p: CheckProblem) => void;
  signal?: AbortSignal;
}

/** Checks (and with `repair`, repairs) the store. */
export async function checkStore(store: ContentStore, opts: CheckOptions = {}): Promise<CheckReport> {
  const repair = opts.repair === true;
  const report: CheckReport = {
    checked: { blobs: 0, modules: 0, records: 0, images: 0, bytes: 0 },
    problems: [],
    pullAgain: [],
  };
  const found = (p: Omit<CheckProblem, "repaired">, repaired: boolean) => {
    const problem = { ...p, repaired };
    report.problems.push(problem);
    opts.onProblem?.(problem);
  };

  // 1. The names. A damaged index.json is rebuilt first, so the image checks below see the names.
  const read = await store.readIndex();
  if ("problem" in read) {
    const rebuilt = repair ? await rebuildIndex(store.root) : undefined;
    if (rebuilt) await store.writeIndex(rebuilt.index);
    const from = rebuilt ? rebuilt.from.join(" and ") || "nothing (no backup, no pull records)" : "";
    found(
      {
        kind: "index",
        path: join(store.root, "index.json"),
        problem: read.problem,
        fix: rebuilt
          ? `rebuilt with ${rebuilt.index.manifests.length} ${rebuilt.index.manifests.length === 1 ? "name" : "names"} from ${from}`
          : "rebuild it from index.json.bak and the pull records",
      },
      repair,
    );
  } else if (repair) {
    await store.refreshIndex(); // writes index.json.bak too (stores from before it had none)
  }

  // 2. What dead processes left.
  const leftovers = repair ? await removeLeftovers(store.root) : await findLeftovers(store.root);
  for (const l of leftovers)
    found({ kind: "leftover", path: l.path, problem: l.why, fix: "remove it" }, repair);

  // 3. Every blob and module hashes to its name.
  const damagedModules = new Set<string>();
  for (const [kind, dir] of [
    ["blob", join(store.root, "blobs", "sha256")],
    ["module", join(store.root, "modules", "sha256")],
  ] as const) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      opts.signal?.throwIfAborted();
      if (/\.(?:tmp|stale)-\d+-/.test(name)) continue; // a write in progress (leftovers were handled above)
      const path = join(dir, name);
      if (!/^[a-f0-9]{64}$/.test(name)) {
        if (repair) await rm(path, { recursive: true, force: true });
        found({ kind, path, problem: "its name is no sha256 digest", fix: "remove it" }, repair);
        continue;
      }
      const verdict = await verifyFile(path, `sha256:${name}`);
      if (kind === "blob") report.checked.blobs++;
      else report.checked.modules++;
      report.checked.bytes += (await stat(path).catch(() => undefined))?.size ?? 0;
      if (verdict.ok || verdict.missing) continue;
      if (kind === "module") damagedModules.add(`sha256:${name}`);
      if (repair) await store.discard(path);
      const fix =
        kind === "module"
          ? "remove it, with the rootfs it was extracted from, and extract it again"
          : "remove it; pull the images that use it again";
      found({ kind, path, problem: verdict.problem, fix }, repair);
    }
  }

  // 4. Pull records: readable, their module present and sound, their rootfs present.
  const reextract = new Set<string>(); // manifest digests whose record went
  const extracted = join(store.root, "extracted");
  for (const file of await readdir(extracted).catch(() => [] as string[])) {
    if (!/^[a-f0-9]{64}\.json$/.test(file)) continue;
    report.checked.records++;
    const path = join(extracted, file);
    const manifest = `sha256:${file.slice(0, 64)}` as Digest;
    const problem = await recordProblem(store, path, damagedModules);
    if (problem === undefined) continue;
    if (repair) {
      await store.discard(store.rootfsPath(manifest));
      await rm(path, { force: true });
    }
    reextract.add(manifest);
    found({ kind: "record", path, problem, fix: "remove it and extract the image again" }, repair);
  }

  // 5. Every name reaches what it needs; names whose extraction went are extracted again from stored blobs.
  const index = await store.readIndex();
  for (const entry of "index" in index ? index.index.manifests : []) {
    const name = entryName(entry);
    if (name === undefined) continue;
    report.checked.images++;
    let graph: Awaited<ReturnType<typeof imageGraph>>;
    try {
      graph = await imageGraph(store, entry);
    } catch (err) {
      // A damaged manifest (only without repair: with it, step 3 removed it and it is missing now).
      found(
        { kind: "image", path: name, problem: ShimError.from(err).rawMessage, fix: `pull ${name} again` },
        false,
      );
      report.pullAgain.push(name);
      continue;
    }
    if (graph.missing.length) {
      const what = graph.missing.map((d) => d.digest).join(", ");
      found(
        {
          kind: "image",
          path: name,
          problem: `it lacks ${graph.missing.length === 1 ? "blob" : "blobs"} ${what}`,
          fix: `pull ${name} again (from its registry or layout)`,
        },
        false,
      );
      report.pullAgain.push(name);
      continue;
    }
    const manifest = (entry.annotations?.[Annotation.PulledManifest] ?? entry.digest) as Digest;
    if (!reextract.has(manifest) || !repair) continue;
    try {
      await pullFrom(store, openedLayoutSource(store, name), name, {
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      found(
        {
          kind: "image",
          path: name,
          problem: "its module or rootfs was removed as damaged",
          fix: "extracted it again from the stored blobs",
        },
        true,
      );
    } catch (err) {
      found(
        {
          kind: "image",
          path: name,
          problem: `extracting it again failed: ${ShimError.from(err).rawMessage}`,
          fix: `pull ${name} again`,
        },
        false,
      );
      report.pullAgain.push(name);
    }
  }
  return report;
}

/** What is wrong with a pull record, or undefined when it, its module and its rootfs are sound. */
async function recordProblem(
  store: ContentStore,
  path: string,
  damagedModules: Set<string>,
): Promise<string | undefined> {
  let record: Partial<PullResult>;
  try {
    record = JSON.parse(await readFile(path, "utf8")) as Partial<PullResult>;
  } catch (err) {
    return `it cannot be read as JSON (${(err as Error).message})`;
  }
  const module = record.module?.digest;
  if (typeof module !== "string" || !isDigest(module)) return "it names no module digest";
  if (damagedModules.has(module)) return `its module ${module} is damaged`;
  const st = await stat(store.modulePath(module)).catch(() => undefined);
  if (!st?.isFile()) return `its module ${module} is missing`;
  if (typeof record.rootfs === "string") {
    const dir = await stat(record.rootfs).catch(() => undefined);
    if (!dir?.isDirectory()) return `its rootfs ${record.rootfs} is missing`;
  }
  return undefined;
}

/** The error `nodewasi check` ends with when it found problems it did not (or could not) repair. */
export function checkFailure(root: string, report: CheckReport, repaired: boolean): ShimError | undefined {
  const left = report.problems.filter((p) => !p.repaired);
  if (left.length === 0) return undefined;
  const pulls = [...new Set(report.pullAgain)];
  const hint = repaired
    ? `pull again: ${pulls.map((n) => `nodewasi pull ${n}`).join("; ")}`
    : `run \`nodewasi --root ${root} check --repair\` to repair what can be${pulls.length ? `, then pull again: ${pulls.join(", ")}` : ""}`;
  return new ShimError(
    Code.DataLoss,
    `the store ${root} has ${left.length} ${left.length === 1 ? "problem" : "problems"}${repaired ? " left that need a pull" : ""}`,
    { details: { hint } },
  );
}
