/**
 * Hostile tar layers (issue 6 item 3, DESIGN decision 13), generated: entries of every type with names and
 * link targets built from the pieces that make escapes (`..`, absolute paths, the sentinel's own path, long
 * names that need pax or ustar prefixes, whiteouts), raw headers with garbage fields and fixed checksums,
 * truncated and corrupted streams, gzip and zstd garbage and bombs. Whatever the layer, unpacking ends within
 * its time limit in success or a `ShimError` InvalidArgument, the tree beside the rootfs is exactly as before
 * (a sentinel file untouched, no hardlink to it), and a layer that unpacks leaves no symlink leading out, no
 * setuid bit and no device node.
 */
import assert from "node:assert/strict";
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { checkProperty, damageArb, damaged, settlesWithin } from "../../../test/harness/property.js";
import { listTree } from "../../../test/harness/store-check.js";
import { Code } from "../../internal/index.js";
import { buildTar } from "../build/index.js";
import type { LayerCompression } from "../image/index.js";
import { unpackLayer } from "./unpack.js";
import { escapingSymlink } from "./unpack-path.js";
import { availableZstdDecoders, defaultZstdDecoder, type ZstdDecoder } from "./zstd-decoders.js";
import { MAX_ZSTD_WINDOW } from "./zstd-frames.js";

/** Small limits so a bomb is recognised in milliseconds; the logic is the same as with the defaults. */
const LIMITS = { maxEntries: 40, maxBytes: 256 * 1024, ratioFloorBytes: 64 * 1024, maxRatio: 100 };
const TARGET = "target.txt";
/** Replaced by the sentinel directory's absolute path when a case is run. */
const SENTINEL = "@SENTINEL@";

let tmp: string;
let n = 0;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "nodewasi-unpack-prop-"));
});
after(() => rm(tmp, { recursive: true, force: true }));

// ---- arbitraries -------------------------------------------------------------------------------------------

const component = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("a", "b", "c.wasm", "d") },
  {
    weight: 3,
    arbitrary: fc.constantFrom("..", ".", "", ".wh.a", ".wh.b", ".wh..wh..opq", ".wh.", ".wh..."),
  },
  { weight: 1, arbitrary: fc.constantFrom("x".repeat(120), "y".repeat(256), "é", "a\\b", " ") },
);
const relPath = fc.array(component, { minLength: 1, maxLength: 5 }).map((c) => c.join("/"));
/** Names and link targets, relative or aimed at the sentinel directory beside the rootfs. */
const pathArb = fc.oneof(
  { weight: 12, arbitrary: relPath },
  {
    weight: 2,
    arbitrary: fc.constantFrom(`${SENTINEL}`, `${SENTINEL}/${TARGET}`, `/${TARGET}`, "/", "/etc/passwd"),
  },
  { weight: 2, arbitrary: fc.nat(4).map((k) => `${"../".repeat(k + 1)}sentinel/${TARGET}`) },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);

type EntryType = "file" | "directory" | "symlink" | "link" | "character-device" | "block-device" | "fifo";
interface GenEntry {
  name: string;
  type: EntryType;
  linkname: string;
  mode: number;
  body: string;
}

const entryArb: fc.Arbitrary<GenEntry> = fc.record({
  name: pathArb,
  type: fc.constantFrom<EntryType>(
    "file",
    "directory",
    "symlink",
    "link",
    "character-device",
    "block-device",
    "fifo",
  ),
  linkname: pathArb,
  mode: fc.nat(0o7777),
  body: fc.string({ maxLength: 40 }),
});

/** Entries an honest tool could write, whose link targets may still climb: the escapes that need a chain. */
const benignComponent = fc.constantFrom("a", "b", "c.wasm", "d", ".", ".wh.a", ".wh..wh..opq");
const benignEntryArb: fc.Arbitrary<GenEntry> = fc.record({
  name: fc.array(benignComponent, { minLength: 1, maxLength: 4 }).map((c) => c.join("/")),
  type: fc.constantFrom<EntryType>("file", "file", "directory", "symlink", "symlink", "link"),
  linkname: fc
    .array(fc.constantFrom("a", "b", "c.wasm", "..", "."), { minLength: 1, maxLength: 5 })
    .map((c) => c.join("/")),
  mode: fc.nat(0o7777),
  body: fc.string({ maxLength: 40 }),
});

/** Mostly benign entries with at most one hostile one somewhere among them. */
const entriesArb = fc
  .tuple(fc.array(benignEntryArb, { maxLength: 10 }), fc.option(entryArb, { freq: 3 }), fc.nat())
  .map(([benign, hostile, at]) => {
    if (hostile === null) return benign;
    const i = at % (benign.length + 1);
    return [...benign.slice(0, i), hostile, ...benign.slice(i)];
  });

/** One layer's raw bytes before compression and corruption. */
type TarSource =
  | { kind: "entries"; entries: GenEntry[] }
  | { kind: "raw"; headers: RawHeader[]; end: boolean };

interface RawHeader {
  name: string;
  typeflag: number;
  size: string | number[];
  linkname: string;
  magic: string;
  mode: string;
  body: number;
  pax?: string;
}

const rawHeaderArb: fc.Arbitrary<RawHeader> = fc.record(
  {
    name: pathArb,
    typeflag: fc.oneof(
      fc.constantFrom(..."0123567xgLK5 ").map((c) => c.charCodeAt(0)),
      fc.nat(255),
    ),
    size: fc.oneof(
      fc.nat(600).map((s) => s.toString(8).padStart(11, "0")),
      fc.constantFrom("77777777777", "", "zz", "-1", "00000001000\u0000"),
      fc.array(fc.nat(255), { minLength: 11, maxLength: 11 }).map((b) => [0x80, ...b]),
    ),
    linkname: pathArb,
    magic: fc.constantFrom("ustar\u000000", "ustar  \u0000", ""),
    mode: fc.constantFrom("0000644", "0007777", "zzzzzzz", ""),
    body: fc.nat(1200),
    pax: fc.constantFrom(
      "path=a/b",
      `path=${SENTINEL}/p.txt`,
      "path=../../x",
      "linkpath=../../../..",
      `linkpath=${SENTINEL}/${TARGET}`,
      "size=abc",
      "size=-5",
      "size=99999999999999999999",
      "path=" + "z/".repeat(3000),
    ),
  },
  { requiredKeys: ["name", "typeflag", "size", "linkname", "magic", "mode", "body"] },
);

const tarSource: fc.Arbitrary<TarSource> = fc.oneof(
  {
    weight: 3,
    arbitrary: entriesArb.map((entries) => ({ kind: "entries" as const, entries })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ headers: fc.array(rawHeaderArb, { minLength: 1, maxLength: 3 }), end: fc.boolean() })
      .map((r) => ({ kind: "raw" as const, ...r })),
  },
);

const layerArb = fc.record({
  source: tarSource,
  compression: fc.constantFrom<LayerCompression>("none", "none", "gzip", "zstd"),
  damage: damageArb,
});

// ---- building bytes ----------------------------------------------------------------------------------------

const TAR_TYPE = {
  file: "file",
  directory: "dir",
  symlink: "symlink",
  link: "link",
  "character-device": "char",
  "block-device": "block",
  fifo: "fifo",
} as const;

/** The entries as a tar, written literally by the image builder's writer (pax records for long names). */
function packEntries(entries: GenEntry[], sentinel: string): Buffer {
  return buildTar(
    entries.map((e) => ({
      path: e.name.replaceAll(SENTINEL, sentinel) || "x",
      type: TAR_TYPE[e.type],
      mode: e.mode,
      linkname: e.linkname.replaceAll(SENTINEL, sentinel),
      data: Buffer.from(e.body),
    })),
  );
}

/** A 512-byte ustar header with whatever fields it is given and a correct checksum, so the parser reads on. */
function rawTarHeader(h: {
  name: string;
  typeflag: number;
  size: string | number[];
  linkname?: string;
  magic?: string;
  mode?: string;
}): Buffer {
  const b = Buffer.alloc(512);
  b.write(h.name, 0, 100, "utf8");
  b.write(h.mode ?? "0000644", 100, 8, "ascii");
  b.write("0000000", 108, 8, "ascii");
  b.write("0000000", 116, 8, "ascii");
  if (typeof h.size === "string") b.write(h.size, 124, 12, "latin1");
  else Buffer.from(h.size).copy(b, 124, 0, 12);
  b.write("00000000000", 136, 12, "ascii");
  b[156] = h.typeflag;
  b.write(h.linkname ?? "", 157, 100, "utf8");
  b.write(h.magic ?? "ustar\u000000", 257, 8, "latin1");
  b.fill(" ", 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, 8, "ascii");
  return b;
}

function pad(len: number): Buffer {
  return Buffer.alloc((512 - (len % 512)) % 512);
}

function rawTar(headers: RawHeader[], end: boolean, sentinel: string): Buffer {
  const parts: Buffer[] = [];
  for (const h of headers) {
    if (h.pax !== undefined) {
      const rec = h.pax.replaceAll(SENTINEL, sentinel);
      let len = rec.length + 3;
      while (`${len} ${rec}\n`.length !== len) len = `${len} ${rec}\n`.length;
      const body = Buffer.from(`${len} ${rec}\n`);
      parts.push(
        rawTarHeader({ name: "pax", typeflag: 0x78, size: body.length.toString(8) }),
        body,
        pad(body.length),
      );
    }
    parts.push(
      rawTarHeader({
        ...h,
        name: h.name.replaceAll(SENTINEL, sentinel),
        linkname: h.linkname.replaceAll(SENTINEL, sentinel),
      }),
    );
    const body = Buffer.alloc(h.body, 0x41);
    parts.push(body, pad(body.length));
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** A zstd frame of raw blocks (RFC 8878 3.1.1): no compression, but a real frame fzstd must walk. */
function zstdRawFrame(data: Uint8Array): Buffer {
  const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0, 0, 0, 0]); // single segment, 4-byte size
  header.writeUInt32LE(data.length, 5);
  const parts = [header];
  const max = 128 * 1024;
  for (let at = 0; at < data.length || at === 0; at += max) {
    const block = data.subarray(at, at + max);
    const last = at + max >= data.length ? 1 : 0;
    const bh = Buffer.alloc(3);
    bh.writeUIntLE(last | (block.length << 3), 0, 3); // type 0: raw
    parts.push(bh, Buffer.from(block));
  }
  return Buffer.concat(parts);
}

/** A zstd frame that inflates `blocks` RLE blocks of 128 KiB zeros after a tar header: a bomb. */
function zstdBomb(blocks: number): Buffer {
  const head = rawTarHeader({ name: "bomb", typeflag: 0x30, size: (blocks * 128 * 1024).toString(8) });
  // Not single segment, window 128 KiB (exponent 7), no content size.
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3])];
  const raw = Buffer.alloc(3);
  raw.writeUIntLE(0 | (head.length << 3), 0, 3);
  parts.push(raw, head);
  for (let i = 0; i < blocks; i++) {
    const bh = Buffer.alloc(4);
    bh.writeUIntLE((i === blocks - 1 ? 1 : 0) | (1 << 1) | ((128 * 1024) << 3), 0, 3); // type 1: RLE
    parts.push(bh); // the 4th byte is the repeated byte, 0
  }
  return Buffer.concat(parts);
}

function compress(bytes: Buffer, c: LayerCompression): Buffer {
  return c === "gzip" ? gzipSync(bytes) : c === "zstd" ? zstdRawFrame(bytes) : bytes;
}

// ---- checks ------------------------------------------------------------------------------------------------

/** A fresh `<tmp>/<n>/{rootfs,sentinel/target.txt}`. */
async function freshCase(): Promise<{ base: string; rootfs: string; sentinel: string }> {
  const base = join(tmp, String(++n));
  const sentinel = join(base, "sentinel");
  await mkdir(sentinel, { recursive: true });
  await writeFile(join(sentinel, TARGET), "original\n");
  return { base, rootfs: join(base, "rootfs"), sentinel };
}

/** Nothing beside the rootfs changed: the sentinel dir holds its one file, unchanged and not linked to. */
async function assertNothingOutside(base: string, sentinel: string): Promise<void> {
  const outside = (await listTree(base)).filter((p) => p !== "rootfs" && !p.startsWith("rootfs/"));
  assert.deepEqual(outside, ["sentinel", `sentinel/${TARGET}`], "something was written outside the rootfs");
  assert.equal(await readFile(join(sentinel, TARGET), "utf8"), "original\n");
  assert.equal((await stat(join(sentinel, TARGET))).nlink, 1, "a hardlink was made to the sentinel file");
}

/** What a layer that unpacked promises: no link out, no setuid/setgid/sticky, no device or fifo. */
async function assertSafeRootfs(rootfs: string): Promise<void> {
  assert.equal(await escapingSymlink(rootfs), undefined, "a symlink leads outside the rootfs");
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      const st = await lstat(path);
      assert.equal(st.mode & 0o7000, 0, `${path} kept a setuid, setgid or sticky bit`);
      assert.ok(st.isFile() || st.isDirectory() || st.isSymbolicLink(), `${path} is a special file`);
      if (st.isDirectory()) await walk(path);
    }
  };
  await walk(rootfs);
}

/** Unpacks the layers in order into the case's rootfs; returns the error that stopped it, if any. */
async function unpackCase(
  layers: Buffer[],
  compression: LayerCompression[],
  c: Awaited<ReturnType<typeof freshCase>>,
  zstd: ZstdDecoder = defaultZstdDecoder(),
): Promise<Error | undefined> {
  for (const [i, bytes] of layers.entries()) {
    const { error } = await settlesWithin(
      10_000,
      `layer ${i}`,
      () =>
        unpackLayer(Readable.from([bytes]), compression[i]!, c.rootfs, {
          name: `layer ${i}`,
          limits: LIMITS,
          zstd,
        }),
      [Code.InvalidArgument],
    );
    if (error) {
      assert.match(error.message, new RegExp(`layer ${i}`), "the error names the layer");
      return error;
    }
    await assertSafeRootfs(c.rootfs);
  }
  return undefined;
}

describe("hostile tar layers (property)", () => {
  it("unpack safely or fail with InvalidArgument, never writing outside the rootfs", async () => {
    await checkProperty(
      fc.asyncProperty(fc.array(layerArb, { minLength: 1, maxLength: 2 }), async (layers) => {
        const c = await freshCase();
        const bytes: Buffer[] = [];
        for (const l of layers) {
          const tarBytes =
            l.source.kind === "entries"
              ? packEntries(l.source.entries, c.sentinel)
              : rawTar(l.source.headers, l.source.end, c.sentinel);
          bytes.push(damaged(compress(tarBytes, l.compression), l.damage));
        }
        try {
          await unpackCase(
            bytes,
            layers.map((l) => l.compression),
            c,
          );
          await assertNothingOutside(c.base, c.sentinel);
        } finally {
          await rm(c.base, { recursive: true, force: true });
        }
      }),
      200,
    );
  });

  for (const zstd of availableZstdDecoders()) {
    it(`${zstd.name}: reads zstd frame headers of any window before the decoder allocates it (bounded memory)`, async () => {
      const tarBytes = packEntries([{ name: "a", type: "file", linkname: "", mode: 0o644, body: "x" }], "");
      await checkProperty(
        fc.asyncProperty(
          fc.nat(255),
          fc.nat(255),
          fc.uint8Array({ minLength: 8, maxLength: 8 }),
          fc.boolean(),
          async (descriptor, windowByte, fcs, skippable) => {
            // A frame header as chosen, then the tar as one raw block; maybe behind a skippable frame.
            const single = (descriptor >> 5) & 1;
            const fcsBytes = descriptor >> 6 ? 1 << (descriptor >> 6) : single;
            const dict = [0, 1, 2, 4][descriptor & 3]!;
            const block = Buffer.alloc(3);
            block.writeUIntLE(1 | (tarBytes.length << 3), 0, 3);
            const frame = Buffer.concat([
              skippable ? Buffer.from([0x5a, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 9, 9]) : Buffer.alloc(0),
              Buffer.from([0x28, 0xb5, 0x2f, 0xfd, descriptor & ~0x08]),
              Buffer.from(single ? [] : [windowByte]),
              Buffer.alloc(dict),
              Buffer.from(fcs.subarray(0, fcsBytes)),
              block,
              tarBytes,
              Buffer.alloc((descriptor >> 2) & 1 ? 4 : 0),
            ]);
            const c = await freshCase();
            const before = process.memoryUsage().arrayBuffers;
            try {
              await unpackCase([frame], ["zstd"], c, zstd);
              const grown = process.memoryUsage().arrayBuffers - before;
              assert.ok(grown < 2 * MAX_ZSTD_WINDOW, `${grown} bytes of array buffers after one tiny layer`);
            } finally {
              await rm(c.base, { recursive: true, force: true });
            }
          },
        ),
        150,
      );
    });

    it(`${zstd.name}: regression: an 18-byte zstd frame asking for a 1.9 GiB window is refused before it is allocated`, async () => {
      const c = await freshCase();
      const before = process.memoryUsage().arrayBuffers;
      const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa7, 1, 0, 0, ...Array(11).fill(0)]);
      const error = await unpackCase([frame], ["zstd"], c, zstd);
      assert.match(error?.message ?? "", /asks for a 2013265920-byte window, over the 134217728-byte limit/);
      assert.ok(process.memoryUsage().arrayBuffers - before < MAX_ZSTD_WINDOW);
      await rm(c.base, { recursive: true, force: true });
    });
  }

  it("regression: a symlink loop is refused as one, not only as a link leading outside", async () => {
    const c = await freshCase();
    const loop = packEntries([{ name: "b", type: "symlink", linkname: "b/a", mode: 0o777, body: "" }], "");
    const error = await unpackCase([loop], ["none"], c);
    assert.match(error?.message ?? "", /refusing entry "b": the symlink loops/);
    await assertNothingOutside(c.base, c.sentinel);
    await rm(c.base, { recursive: true, force: true });
  });

  for (const zstd of availableZstdDecoders()) {
    it(`${zstd.name}: refuses zstd and gzip bombs and zstd garbage with InvalidArgument`, async () => {
      await checkProperty(
        fc.asyncProperty(
          fc.oneof(
            fc
              .integer({ min: 4, max: 64 })
              .map((b) => ({ bytes: zstdBomb(b), c: "zstd" as const, bomb: true })),
            fc.uint8Array({ maxLength: 200 }).map((t) => ({
              bytes: Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), t]),
              c: "zstd" as const,
              bomb: false,
            })),
            fc
              .uint8Array({ maxLength: 200 })
              .map((t) => ({ bytes: Buffer.from(t), c: "gzip" as const, bomb: false })),
            fc.integer({ min: 1, max: 4 }).map((mb) => ({
              bytes: gzipSync(
                Buffer.concat([
                  rawTarHeader({ name: "z", typeflag: 0x30, size: (mb << 20).toString(8) }),
                  Buffer.alloc(mb << 20),
                ]),
              ),
              c: "gzip" as const,
              bomb: true,
            })),
          ),
          async ({ bytes, c: compression, bomb }) => {
            const c = await freshCase();
            try {
              const error = await unpackCase([bytes], [compression], c, zstd);
              if (bomb) assert.match(error?.message ?? "no error", /ratio|after decompression|more than/);
              await assertNothingOutside(c.base, c.sentinel);
            } finally {
              await rm(c.base, { recursive: true, force: true });
            }
          },
        ),
        60,
      );
    });
  }
});
