/**
 * A small synchronous, reproducible tar writer for image layers built in memory. tar-stream's `pack` is
 * asynchronous and streaming; image building must be synchronous and byte-for-byte repeatable, and test
 * fixtures need entries a careful writer would refuse (absolute paths, `..`, links leaving the root, device
 * nodes), so the writer takes every entry literally and never normalises a name.
 *
 * Format: POSIX ustar (the format Docker and BuildKit layers use), with a PAX `path`/`linkpath` extended
 * header when a name does not fit ustar's 100-byte name (+155-byte prefix) fields, as GNU tar and Go's
 * archive/tar do. mtime, uid and gid are always 0 and user/group names empty, so the bytes depend only on the
 * entries.
 */
import { invalidArgument } from "../../internal/index.js";

/** Entry kinds, as tar typeflags name them. */
export type TarEntryType = "file" | "dir" | "symlink" | "link" | "char" | "block" | "fifo";

/** One archive member; anything a tar can hold, so fixtures can build hostile layers. */
export interface TarEntry {
  /** Name in the archive, written exactly as given (no leading `/` stripped, no `..` refused). */
  path: string;
  /** File content; only for `file` entries. */
  data?: Uint8Array;
  /** Permission bits (and setuid/setgid/sticky); defaults 0644 for files, 0755 for dirs, 0777 for symlinks. */
  mode?: number;
  type?: TarEntryType;
  /** Target of a `symlink` or `link` (hardlink) entry. */
  linkname?: string;
  /** Device numbers of `char`/`block` entries. */
  devmajor?: number;
  devminor?: number;
}

const TYPEFLAG: Record<TarEntryType, string> = {
  file: "0",
  link: "1",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6",
};

const BLOCK = 512;

/** Builds an uncompressed tar archive of `entries`, in order, ending with the two zero blocks. */
export function buildTar(entries: readonly TarEntry[]): Buffer {
  return Buffer.concat(tarChunks(entries));
}

/**
 * The tar archive of `entries` as the buffers that make it up, in order (what `buildTar` joins): headers,
 * file contents and padding. File contents are views of the entries' own bytes, not copies, so streaming the
 * archive of a 50 MiB module costs no 50 MiB copy; the entries must not change while the chunks are in use.
 */
export function tarChunks(entries: readonly TarEntry[]): Buffer[] {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? "file";
    const data = type === "file" && e.data ? view(e.data) : Buffer.alloc(0);
    const linkname = e.linkname ?? "";
    const mode = e.mode ?? (type === "dir" ? 0o755 : type === "symlink" ? 0o777 : 0o644);
    const split = splitName(e.path);
    const pax: Record<string, string> = {};
    if (!split) pax.path = e.path;
    if (Buffer.byteLength(linkname) > 100) pax.linkpath = linkname;
    if (Object.keys(pax).length > 0) {
      const body = paxRecords(pax);
      parts.push(header({ name: "PaxHeaders/entry", prefix: "", mode: 0o644, size: body.length, flag: "x" }));
      parts.push(...padded(body));
    }
    parts.push(
      header({
        name: split?.name ?? truncate(e.path, 100),
        prefix: split?.prefix ?? "",
        mode,
        size: data.length,
        flag: TYPEFLAG[type],
        linkname: Buffer.byteLength(linkname) > 100 ? truncate(linkname, 100) : linkname,
        devmajor: e.devmajor ?? 0,
        devminor: e.devminor ?? 0,
      }),
    );
    if (data.length > 0) parts.push(...padded(data));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return parts;
}

/** `data` as a Buffer over the same memory. */
function view(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Splits a name into ustar `prefix` and `name` fields, or undefined when it needs a PAX header. */
function splitName(path: string): { prefix: string; name: string } | undefined {
  if (!/^[\x20-\x7e]*$/.test(path)) return undefined;
  if (path.length <= 100) return { prefix: "", name: path };
  for (let i = path.lastIndexOf("/", 155); i > 0; i = path.lastIndexOf("/", i - 1)) {
    if (path.length - i - 1 <= 100 && path.length - i - 1 > 0)
      return { prefix: path.slice(0, i), name: path.slice(i + 1) };
  }
  return undefined;
}

function truncate(s: string, bytes: number): string {
  return Buffer.from(s).subarray(0, bytes).toString("latin1");
}

/** PAX records `"<len> key=value\n"`, where len counts the whole record including its own digits. */
function paxRecords(fields: Record<string, string>): Buffer {
  let out = "";
  for (const [k, v] of Object.entries(fields)) {
    const rest = ` ${k}=${v}\n`;
    const restLen = Buffer.byteLength(rest);
    let len = restLen + String(restLen).length;
    if (String(len).length !== String(restLen).length) len = restLen + String(len).length;
    out += `${len}${rest}`;
  }
  return Buffer.from(out);
}

interface HeaderFields {
  name: string;
  prefix: string;
  mode: number;
  size: number;
  flag: string;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
}

function header(h: HeaderFields): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(h.name, 0, 100, "utf8");
  b.write(octal(h.mode & 0o7777, 8), 100, "ascii");
  b.write(octal(0, 8), 108, "ascii");
  b.write(octal(0, 8), 116, "ascii");
  b.write(octal(h.size, 12), 124, "ascii");
  b.write(octal(0, 12), 136, "ascii");
  b.write(h.flag, 156, "ascii");
  b.write(h.linkname ?? "", 157, 100, "utf8");
  b.write("ustar\u000000", 257, "ascii");
  b.write(octal(h.devmajor ?? 0, 8), 329, "ascii");
  b.write(octal(h.devminor ?? 0, 8), 337, "ascii");
  b.write(h.prefix, 345, 155, "utf8");
  // The checksum is computed with its own field read as eight spaces.
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, "ascii");
  return b;
}

/** A zero-padded octal number filling `width` bytes including its NUL terminator. */
function octal(n: number, width: number): string {
  const s = n.toString(8);
  if (s.length > width - 1)
    throw invalidArgument(
      `tar header value ${n} does not fit ${width - 1} octal digits; use smaller entries`,
    );
  return `${s.padStart(width - 1, "0")}\u0000`;
}

/** `data` and the zeros that fill its last block. */
function padded(data: Buffer): Buffer[] {
  const rem = data.length % BLOCK;
  return rem === 0 ? [data] : [data, Buffer.alloc(BLOCK - rem)];
}
