/** A pass-through stage that counts bytes, for the InflationGuard of decompress.ts and zstd-decoders.ts. */
import { Transform } from "node:stream";

/**
 * Counts what passes; fails the stream once (later writes, already in flight, are dropped). `end`, if given,
 * runs when the input ends and fails the stream if it throws.
 */
export function counter(count: (n: number) => void, end?: () => void): Transform {
  let failed = false;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (failed) return cb();
      try {
        count(chunk.length);
        cb(null, chunk);
      } catch (err) {
        failed = true;
        this.destroy(err as Error);
        cb();
      }
    },
    flush(cb) {
      try {
        end?.();
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}
