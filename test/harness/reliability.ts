/**
 * Figures for docs/RELIABILITY.md. A reliability case (a test named in scripts/reliability-cases.mjs) states
 * what it injected and what survived with `recordFigures(t, {...})`; the figures travel as one test
 * diagnostic (`# reliability {...}` in any reporter's output), which `npm run reliability` reads back by the
 * test's file and line, so there is no side file and `npm test` shows the same figures.
 *
 * Figures must be the same on every run (counts, bytes, faults, bounds that held): the report is committed
 * and regenerated in CI, so a duration or an RSS reading goes in as the bound it stayed under, never raw.
 */
import type { TestContext } from "node:test";

/** The start of the diagnostic line the reliability reporter looks for. */
export const FIGURES_PREFIX = "reliability ";

/** One figure: a count, a byte size, or a short phrase such as `"<= 64 MiB (held)"`. */
export type Figure = string | number | boolean;

/** Records `figures` for the running test (call it once the test has asserted what it measured). */
export function recordFigures(t: TestContext, figures: Record<string, Figure>): void {
  t.diagnostic(`${FIGURES_PREFIX}${JSON.stringify(figures)}`);
}

/** `bytes` as a stable human figure: `512 KiB`, `3 MiB` (exact multiples) or the byte count. */
export function bytesFigure(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}
