/**
 * Shared pieces of the hostile-input property tests (issue 6 item 3): one seed for every run, a wrapper that
 * says how to replay a failure, the assertion that an error is a `ShimError` with an expected code, a time
 * limit per case so a hang fails instead of stalling the suite, and arbitraries of hostile JSON.
 *
 * The seed is fixed so CI is reproducible; set `NODEWASI_FC_SEED` to explore other inputs (any integer), and
 * `NODEWASI_FC_RUNS` to multiply every test's number of runs (e.g. 10 for a long local soak).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { Code, ShimError } from "../../src/internal/index.js";

/** The seed of every property run: `NODEWASI_FC_SEED`, else a fixed default. */
export const PROPERTY_SEED = Number.parseInt(process.env.NODEWASI_FC_SEED ?? "", 10) || 0x6e6f6465;
const RUNS_FACTOR = Number(process.env.NODEWASI_FC_RUNS) || 1;

/**
 * `fc.assert` with the suite's seed and `numRuns` (times `NODEWASI_FC_RUNS`). A failure's message gains the
 * command line that replays it; fast-check already names the shrunk counterexample and its path.
 */
export async function checkProperty<T>(
  property: fc.IProperty<T> | fc.IAsyncProperty<T>,
  numRuns: number,
): Promise<void> {
  try {
    await fc.assert(property, {
      seed: PROPERTY_SEED,
      numRuns: Math.ceil(numRuns * RUNS_FACTOR),
      includeErrorInReport: true,
    });
  } catch (err) {
    if (err instanceof Error)
      err.message += `\nreplay with NODEWASI_FC_SEED=${PROPERTY_SEED} (fast-check's path is above)`;
    throw err;
  }
}

/** Asserts that `err` is a `ShimError` whose code is one of `codes`, with a message that says something. */
export function assertShimError(err: unknown, codes: readonly Code[], what = ""): ShimError {
  assert.ok(
    err instanceof ShimError,
    `${what}: want a ShimError, got ${err instanceof Error ? err.stack : String(err)}`,
  );
  assert.ok(
    codes.includes(err.code),
    `${what}: want code ${codes.map((c) => Code[c]).join(" or ")}, got ${err.message}`,
  );
  assert.ok(err.rawMessage.length > 10, `${what}: the message says nothing: ${err.message}`);
  return err;
}

/**
 * Runs `fn` and expects it to either return or fail with a `ShimError` of one of `codes`; returns what it
 * returned (undefined when it failed). Fails the case when `fn` takes longer than `ms` (a hang).
 */
export async function settlesWithin<T>(
  ms: number,
  what: string,
  fn: () => Promise<T>,
  codes: readonly Code[],
): Promise<{ value?: T; error?: ShimError }> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still running after ${ms} ms (a hang)`)), ms);
  });
  try {
    return { value: await Promise.race([fn(), hang]) };
  } catch (err) {
    if (err instanceof Error && err.message.endsWith("(a hang)")) throw err;
    return { error: assertShimError(err, codes, what) };
  } finally {
    clearTimeout(timer);
  }
}

/** Values of every JSON type, including ones a schema never expects (wrong types at any field). */
export const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 53, "", "x", [], {}),
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ maxLength: 20 }),
  fc.array(fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant(null)), { maxLength: 4 }),
);

/** JSON text nested `depth` levels deep (`[[[...]]]` or `{"a":{"a":...}}`): parsers must not overflow. */
export function deepJson(depth: number, kind: "array" | "object"): string {
  return kind === "array"
    ? "[".repeat(depth) + "]".repeat(depth)
    : '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

/**
 * A valid JSON object with one field (at a path chosen by the generator) replaced by a hostile value, or
 * removed: the way a malformed document that still parses differs from a good one.
 */
export function mutatedJson(good: unknown): fc.Arbitrary<unknown> {
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    paths.push(path);
    if (Array.isArray(v)) for (const [i, x] of v.entries()) walk(x, [...path, i]);
    else if (typeof v === "object" && v !== null)
      for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(good, []);
  return fc
    .tuple(fc.constantFrom(...paths), fc.oneof(fc.constant(REMOVE), anyJson))
    .map(([path, value]) => replaceAt(good, path, value));
}

const REMOVE = Symbol("remove");

function replaceAt(v: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value === REMOVE ? undefined : value;
  const [head, ...rest] = path;
  const copy = (Array.isArray(v) ? [...v] : { ...(v as object) }) as Record<string | number, unknown>;
  if (rest.length === 0 && value === REMOVE) delete copy[head!];
  else copy[head!] = replaceAt(copy[head!], rest, value);
  return copy;
}

/** What is done to valid bytes to make hostile ones: nothing, a cut at some offset, or one byte changed. */
export type Damage =
  | { kind: "none" }
  | { kind: "cut"; at: number }
  | { kind: "set"; at: number; byte: number };

/** Damage, mostly none, so that what the bytes were built to reach is still reached often. */
export const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: "none" as const }) },
  { weight: 1, arbitrary: fc.nat().map((at) => ({ kind: "cut" as const, at })) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.nat(), fc.nat(255)).map(([at, byte]) => ({ kind: "set" as const, at, byte })),
  },
);

/** `bytes` with `d` applied (offsets wrap around the length); the input is never modified. */
export function damaged(bytes: Uint8Array, d: Damage): Buffer {
  if (d.kind === "none" || bytes.length === 0) return Buffer.from(bytes);
  if (d.kind === "cut") return Buffer.from(bytes.subarray(0, d.at % (bytes.length + 1)));
  const out = Buffer.from(bytes);
  out[d.at % out.length] = d.byte;
  return out;
}
