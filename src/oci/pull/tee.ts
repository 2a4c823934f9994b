/**
 * A side branch of a download: the bytes of one attempt also flow into `side` (the unpacker of the bottom
 * layer, so a layer unpacks while it downloads). The side is slower or faster; backpressure from it slows the
 * download, and a side that fails or closes early is dropped without disturbing the download. The side is only
 * ended by `end()` — after the blob is verified — so what it consumed counts only once the content is known
 * good; `fail()` destroys it instead.
 */
import { Transform, type TransformCallback, type Writable } from "node:stream";

export class Tee {
  #side: Writable | undefined;

  constructor(side: Writable) {
    this.#side = side;
    const drop = () => {
      this.#side = undefined;
    };
    side.once("error", drop);
    side.once("close", drop);
  }

  /** A pass-through that also writes each chunk to the side, waiting for it to drain when it is full. */
  tap(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) => {
        const side = this.#side;
        if (!side || side.write(chunk)) {
          cb(null, chunk);
          return;
        }
        const go = () => {
          side.off("drain", go);
          side.off("close", go);
          cb(null, chunk);
        };
        side.on("drain", go);
        side.on("close", go);
      },
    });
  }

  /** The content is verified: let the side finish. */
  end(): void {
    this.#side?.end();
    this.#side = undefined;
  }

  /** The attempt failed, was resumed, or had nothing to send: the side must not use what it saw. */
  fail(reason: Error): void {
    this.#side?.destroy(reason);
    this.#side = undefined;
  }
}
