/**
 * Reads a tar with tar-stream, an independent parser, so the project's tar writers are checked against
 * someone else's reader.
 */
import { Readable } from "node:stream";
import { extract, type Header } from "tar-stream";

/** The entries of `tar`, in order: each header and its content. */
export async function readTar(tar: Buffer): Promise<{ header: Header; data: Buffer }[]> {
  const out: { header: Header; data: Buffer }[] = [];
  const ex = extract();
  Readable.from([tar]).pipe(ex);
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.push({ header: entry.header, data: Buffer.concat(chunks) });
  }
  return out;
}
