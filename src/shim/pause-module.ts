/**
 * The built-in pause module (DESIGN decision 17): what a CRI sandbox container runs when its `args[0]` (the
 * k8s pause image's `/pause`) is not a wasm module, so a pod can start under this runtime class. It waits
 * forever without using CPU and never exits on its own; a signal ends it like any guest (143 / 137).
 *
 * Source (`wat2wasm pause.wat`):
 *
 *   (module
 *     (import "wasi_snapshot_preview1" "poll_oneoff"
 *       (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
 *     (memory (export "memory") 1)
 *     ;; One subscription at 0 (48 bytes): userdata 0, tag 0 (clock), clock id 1 (monotonic) at 16,
 *     ;; timeout 3600 s in ns at 24, precision 0, flags 0 (relative). Event out at 64, nevents at 96.
 *     (data (i32.const 16) "\01")
 *     (data (i32.const 24) "\00\a0\b8\30\46\03\00\00")
 *     (func (export "_start")
 *       (loop $forever
 *         (drop (call $poll_oneoff (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 96)))
 *         (br $forever))))
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

const PAUSE_BASE64 =
  "AGFzbQEAAAABDAJgBH9/f38Bf2AAAAImARZ3YXNpX3NuYXBzaG90X3ByZXZpZXcxC3BvbGxfb25lb2ZmAAADAgEBBQMBAAEHEwIGbWVtb3J5" +
  "AgAGX3N0YXJ0AAEKFgEUAANAQQBBwABBAUHgABAAGgwACwsLFAIAQRALAQEAQRgLCACguDBGAwAA";

/** The module's bytes. */
export const PAUSE_WASM: Uint8Array = new Uint8Array(Buffer.from(PAUSE_BASE64, "base64"));

/** The file name the pause module is written to in a directory. */
export const PAUSE_FILE = "pause.wasm";

/**
 * Writes the pause module to `<dir>/pause.wasm` unless it is already there with the right bytes; atomic (a
 * temporary file renamed into place), so concurrent sandboxes never run a half-written file. Returns its path.
 */
export async function ensurePauseModule(dir: string): Promise<string> {
  const path = join(dir, PAUSE_FILE);
  const current = await readFile(path).catch(() => undefined);
  if (current && Buffer.compare(current, PAUSE_WASM) === 0) return path;
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, PAUSE_WASM, { mode: 0o644 });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
  return path;
}
