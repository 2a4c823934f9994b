/**
 * Images whose tar layers attack the unpacker (DESIGN decision 13), each aimed at a sentinel directory outside
 * the store so a test can prove nothing was written there: `..` traversal, an absolute path, a symlink out
 * followed by a file written through it, a hardlink to a file outside, a device node, and a gzip bomb.
 */
import { createGzip } from "node:zlib";
import { type BuiltImage, buildImage } from "../../src/oci/build/build.js";
import type { TarEntry } from "../../src/oci/build/build-tar.js";
import { MediaType } from "../../src/oci/image/media-types.js";
import { helloModule } from "./modules.js";

export interface HostileFixture {
  repoTag: string;
  built: BuiltImage;
  /** What the error message must say. */
  message: RegExp;
}

/** The file a hardlink fixture targets; tests create it in the sentinel dir and check it is untouched. */
export const SENTINEL_TARGET = "target.txt";

/**
 * A gzip stream of a tar holding one file of `size` zero bytes: about 1000:1, so 200 MiB arrive as ~200 KiB.
 * Made with streaming zlib so the harness never holds the inflated bytes.
 */
export async function gzipBomb(size: number): Promise<Buffer> {
  const header = Buffer.alloc(512);
  header.write("bomb.bin", 0, "utf8");
  header.write("0000644\0", 100);
  header.write("0000000\0", 108);
  header.write("0000000\0", 116);
  header.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
  header.write("00000000000\0", 136);
  header.write("0", 156);
  header.write("ustar\0", 257);
  header.write("00", 263);
  header.fill(" ", 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  const gz = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on("data", (c: Buffer) => out.push(c));
  const done = new Promise<void>((resolve, reject) => {
    gz.on("end", resolve);
    gz.on("error", reject);
  });
  const write = (b: Buffer) =>
    new Promise<void>((resolve) => {
      if (gz.write(b)) resolve();
      else gz.once("drain", () => resolve());
    });
  await write(header);
  const zeros = Buffer.alloc(1024 * 1024);
  for (let left = size; left > 0; left -= zeros.length)
    await write(left >= zeros.length ? zeros : zeros.subarray(0, left));
  const pad = (512 - (size % 512)) % 512;
  await write(Buffer.alloc(pad + 1024));
  gz.end();
  await done;
  return Buffer.concat(out);
}

/** Hostile images aimed at `sentinel` (an absolute directory outside the store). */
export async function hostileFixtures(sentinel: string): Promise<HostileFixture[]> {
  const up = "../".repeat(40) + sentinel.replace(/^\/+/, "");
  const image = (name: string, files: TarEntry[], message: RegExp): HostileFixture => ({
    repoTag: `hostile/${name}:v1`,
    built: buildImage({ module: helloModule(`hello from hostile ${name}`), format: "image", files }),
    message,
  });
  const bomb = await gzipBomb(200 * 1024 * 1024);
  return [
    image(
      "traversal",
      [{ path: `${up}/traversal.txt`, data: Buffer.from("escaped\n") }],
      /`\.\.` components are not allowed|leads outside/,
    ),
    image("absolute", [{ path: `${sentinel}/absolute.txt`, data: Buffer.from("escaped\n") }], /absolute/i),
    image(
      "symlink-out",
      [
        { path: "escape", type: "symlink", linkname: sentinel },
        { path: "escape/through-symlink.txt", data: Buffer.from("escaped\n") },
      ],
      /symlink/i,
    ),
    image(
      "symlink-relative",
      [
        { path: "dir/escape", type: "symlink", linkname: `../${up}` },
        { path: "dir/escape/through-relative.txt", data: Buffer.from("escaped\n") },
      ],
      /symlink/i,
    ),
    image(
      "hardlink-out",
      [{ path: "hard.txt", type: "link", linkname: `${sentinel}/${SENTINEL_TARGET}` }],
      /hardlink/i,
    ),
    image(
      "hardlink-up",
      [{ path: "hard2.txt", type: "link", linkname: `${up}/${SENTINEL_TARGET}` }],
      /hardlink/i,
    ),
    image("device", [{ path: "dev/kmsg", type: "char", devmajor: 1, devminor: 11 }], /device/i),
    image("block-device", [{ path: "dev/sda", type: "block", devmajor: 8, devminor: 0 }], /device/i),
    {
      repoTag: "hostile/gzip-bomb:v1",
      built: buildImage({
        module: helloModule("hello from hostile gzip-bomb"),
        format: "image",
        compressLayer: () => ({ data: bomb, mediaType: MediaType.OciLayerGzip }),
      }),
      message: /ratio|inflated/i,
    },
  ];
}
