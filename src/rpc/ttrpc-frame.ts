/**
 * ttrpc framing (docs/TTRPC.md; containerd/ttrpc channel.go): every message is a 10-byte big-endian header,
 * `u32 data length | u32 stream id | u8 type | u8 flags`, then the data. A frame's data is at most
 * `MESSAGE_LENGTH_MAX` (4 MiB). Pure functions and a decoder over a byte stream; no sockets here.
 */
import { Code, ShimError } from "../internal/index.js";

/** Header size in bytes (`messageHeaderLength`). */
export const HEADER_LENGTH = 10;
/** Largest data length a peer accepts (`messageLengthMax = 4 << 20`); a larger frame is refused. */
export const MESSAGE_LENGTH_MAX = 4 << 20;

/** Message types: a unary call is one Request and one Response on the same odd stream id. */
export const MessageType = { Request: 1, Response: 2, Data: 3 } as const;

/** Flags of Request and Data frames (streaming, ttrpc >= 1.2); unary frames carry 0. */
export const FrameFlag = { RemoteClosed: 0x1, RemoteOpen: 0x2, NoData: 0x4 } as const;

export interface FrameHeader {
  /** Data length, excluding the header. */
  length: number;
  streamId: number;
  /** Any byte: unknown types are the receiver's business (ttrpc's server ignores them). */
  type: number;
  flags: number;
}

/** What the decoder yields: a whole frame, or the header of a frame whose oversized data it discarded. */
export type DecodedFrame =
  | { kind: "frame"; header: FrameHeader; payload: Buffer }
  | { kind: "oversized"; header: FrameHeader };

/**
 * One frame as bytes. Throws a ResourceExhausted `ShimError` when `payload` is larger than `max`, as ttrpc's
 * `channel.send` does (OversizedMessageError), and a RangeError for a stream id, type or flags out of range.
 */
export function encodeFrame(
  streamId: number,
  type: number,
  flags: number,
  payload: Uint8Array = new Uint8Array(0),
  max: number = MESSAGE_LENGTH_MAX,
): Buffer {
  if (payload.byteLength > max) {
    throw new ShimError(
      Code.ResourceExhausted,
      `message length ${payload.byteLength} exceeds maximum message size of ${max}`,
    );
  }
  const frame = Buffer.allocUnsafe(HEADER_LENGTH + payload.byteLength);
  frame.writeUInt32BE(payload.byteLength, 0);
  frame.writeUInt32BE(streamId, 4);
  frame.writeUInt8(type, 8);
  frame.writeUInt8(flags, 9);
  frame.set(payload, HEADER_LENGTH);
  return frame;
}

/** The header at the start of `bytes` (at least `HEADER_LENGTH` long). */
export function decodeHeader(bytes: Uint8Array): FrameHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_LENGTH);
  return {
    length: view.getUint32(0),
    streamId: view.getUint32(4),
    type: view.getUint8(8),
    flags: view.getUint8(9),
  };
}

/**
 * Splits a byte stream into frames, whatever the chunking: `push` each chunk as it arrives and handle the
 * frames it returns, in order. Never throws on content. A header announcing more than `max` bytes does not
 * make the decoder buffer them: it skips that many bytes as they arrive and then yields `oversized` with the
 * header, as ttrpc's `channel.recv` discards the data and returns RESOURCE_EXHAUSTED for that stream.
 */
export class FrameDecoder {
  readonly #max: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #header: FrameHeader | undefined;
  /** Bytes of an oversized frame's data still to skip. */
  #skip = 0;

  constructor(max: number = MESSAGE_LENGTH_MAX) {
    this.#max = max;
  }

  /** Bytes received that do not yet make a whole frame; non-zero at the end of a stream means truncation. */
  get pending(): number {
    return this.#buffered + (this.#header ? HEADER_LENGTH : 0);
  }

  /** Feeds `chunk`; returns the frames it completed. */
  push(chunk: Uint8Array): DecodedFrame[] {
    if (chunk.byteLength > 0) {
      this.#chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.#buffered += chunk.byteLength;
    }
    const out: DecodedFrame[] = [];
    for (;;) {
      if (!this.#header) {
        if (this.#buffered < HEADER_LENGTH) break;
        this.#header = decodeHeader(this.#take(HEADER_LENGTH));
        if (this.#header.length > this.#max) this.#skip = this.#header.length;
      }
      const header = this.#header;
      if (header.length > this.#max) {
        this.#skip -= this.#drop(this.#skip);
        if (this.#skip > 0) break;
        out.push({ kind: "oversized", header });
      } else {
        if (this.#buffered < header.length) break;
        out.push({ kind: "frame", header, payload: this.#take(header.length) });
      }
      this.#header = undefined;
    }
    return out;
  }

  /** The first `n` buffered bytes (n <= buffered), removed from the buffer. */
  #take(n: number): Buffer {
    const first = this.#chunks[0];
    if (first && first.byteLength >= n) {
      this.#chunks[0] = first.subarray(n);
      if (this.#chunks[0].byteLength === 0) this.#chunks.shift();
      this.#buffered -= n;
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const chunk = this.#chunks[0]!;
      const used = Math.min(chunk.byteLength, n - at);
      chunk.copy(out, at, 0, used);
      at += used;
      if (used === chunk.byteLength) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(used);
    }
    this.#buffered -= n;
    return out;
  }

  /** Drops up to `n` buffered bytes; returns how many it dropped. */
  #drop(n: number): number {
    let dropped = 0;
    while (dropped < n && this.#chunks.length > 0) {
      const chunk = this.#chunks[0]!;
      const used = Math.min(chunk.byteLength, n - dropped);
      dropped += used;
      if (used === chunk.byteLength) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(used);
    }
    this.#buffered -= dropped;
    return dropped;
  }
}
