/**
 * A child process for src/oci/store/store.test.ts: ingests one blob into a store, slowly, so that two of them overlap. Prints
 * one JSON line: `{"complete":true}` when it found the blob stored (by the other), `{"wrote":N}` when it wrote it.
 * Usage: node ingest-worker.js ROOT DIGEST SIZE CONTENT_FILE
 */
import { readFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { parseDigest, sleep } from "../../src/internal/index.js";
import { ContentStore } from "../../src/oci/store/store.js";

const [root, digest, size, file] = process.argv.slice(2) as [string, string, string, string];
const desc = { mediaType: "application/octet-stream", digest: parseDigest(digest), size: Number(size) };
const bytes = await readFile(file);
const store = await ContentStore.open(root);
const ingest = await store.ingest(desc, AbortSignal.timeout(30_000));
try {
  if (ingest.complete) {
    process.stdout.write(`${JSON.stringify({ complete: true })}\n`);
  } else {
    async function* slowly() {
      for (let i = ingest.offset; i < bytes.length; i += 4096) {
        yield bytes.subarray(i, i + 4096);
        await sleep(5);
      }
    }
    let wrote = 0;
    await ingest.write(Readable.from(slowly()), ingest.offset, (n) => {
      wrote += n;
    });
    await ingest.commit();
    process.stdout.write(`${JSON.stringify({ wrote })}\n`);
  }
} finally {
  await ingest.release();
}
