/**
 * Sizes as people write them on command lines and in environment variables: `65536`, `512k`, `64m`, `1.5g`,
 * `2MiB`. k, m, g and t are powers of 1024, case-insensitive, with an optional trailing `b` or `ib`, as Docker
 * reads `--memory` and `--log-opt max-size` (go-units `RAMInBytes`).
 */

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** The size `text` names in bytes (rounded down), or undefined when it names none. */
export function parseByteSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) return undefined;
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
