/**
 * Appends a stream of chunks to an open file in batches, with one write in flight while the next batch fills:
 * awaiting a write per chunk (16-64 KiB from a socket or zlib) makes the disk the pace of the whole stream.
 * Every chunk passed to `write` is on disk once `close` has settled, also after a failure upstream, which is
 * what lets a broken download resume exactly where its bytes end.
 */
import type { FileHandle } from "node:fs/promises";

/** Bytes gathered before one write. */
const BATCH = 1 << 20;

export class BatchWriter {
  readonly #fh: FileHandle;
  #pending: Promise<unknown> = Promise.resolve();
  #batch: Buffer[] = [];
  #batched = 0;

  constructor(fh: FileHandle) {
    this.#fh = fh;
  }

  /** Queues `chunk`; waits only when a full batch must wait for the write before it. */
  async write(chunk: Buffer): Promise<void> {
    this.#batch.push(chunk);
    this.#batched += chunk.length;
    if (this.#batched >= BATCH) await this.#flush();
  }

  /** Drops what is queued and not yet written (for content that must not reach the file). */
  discard(): void {
    this.#batch = [];
    this.#batched = 0;
  }

  /** Writes what is queued and waits for every write; rejects with the first write error. */
  async flush(): Promise<void> {
    await this.#flush();
    await this.#pending;
  }

  async #flush(): Promise<void> {
    await this.#pending;
    const bufs = this.#batch;
    this.discard();
    const writing = bufs.length ? writeAll(this.#fh, bufs) : Promise.resolve();
    // Marked handled now: the write may fail (ENOSPC) while the caller waits on its source, and an unhandled
    // rejection ends the process (the whole shim). The next `write` or `flush` still sees the error.
    writing.catch(() => {});
    this.#pending = writing;
  }
}

/**
 * Writes every byte of `bufs`. A write may be short without failing: a disk that fills up takes what fits and
 * says so only by the count (writev(2)), so the rest is written again, and that write fails with the reason
 * (ENOSPC). Taking the count as all would lose the rest while the caller counts it as written.
 */
async function writeAll(fh: FileHandle, bufs: Buffer[]): Promise<void> {
  const total = bufs.reduce((n, b) => n + b.length, 0);
  let done = (await fh.writev(bufs)).bytesWritten;
  if (done === total) return;
  const rest = Buffer.concat(bufs).subarray(done);
  while (done < total) {
    const { bytesWritten } = await fh.write(rest, done - (total - rest.length));
    if (bytesWritten === 0) throw Object.assign(new Error("write wrote nothing"), { code: "EIO" });
    done += bytesWritten;
  }
}
