/**
 * A registry as an `ImageSource`: the accessors pull.ts uses, backed by a `RegistryClient`. Child manifests
 * are fetched by digest and checked against their descriptor's size too, so a registry cannot substitute a
 * different (even validly hashed) document of another size.
 */
import { Code, dataLoss, ShimError } from "../../internal/index.js";
import type { ImageSource } from "../image/index.js";
import { formatReference, MAX_MANIFEST_BYTES, type Reference } from "../image/index.js";
import type { RegistryClient } from "./registry-client.js";

/** Who owns the client. */
export interface RegistrySourceOptions {
  /** Whether `close()` closes the client (default true: the source owns it). */
  closeClient?: boolean;
}

/** An image source for `ref` on its registry; `name` defaults to the canonical reference text. */
export function registrySource(
  client: RegistryClient,
  ref: Reference,
  name: string = formatReference(ref),
  opts: RegistrySourceOptions = {},
): ImageSource {
  return {
    name,
    resolve: (signal) => client.getManifest(ref, signal ? { signal } : {}),
    async fetchManifest(desc, signal) {
      if (desc.size > MAX_MANIFEST_BYTES) {
        throw new ShimError(
          Code.ResourceExhausted,
          `manifest ${desc.digest} in ${name}: descriptor says ${desc.size} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`,
        );
      }
      const { tag: _tag, ...byName } = ref;
      const m = await client.getManifest({ ...byName, digest: desc.digest }, signal ? { signal } : {});
      if (m.bytes.length !== desc.size) {
        throw dataLoss(
          `manifest ${desc.digest} in ${name}: got ${m.bytes.length} bytes, descriptor says ${desc.size}`,
          { temporary: true },
        );
      }
      return m;
    },
    openBlob: (desc, offset, signal) => client.openBlob(ref.registry, ref.repository, desc, offset, signal),
    async close() {
      if (opts.closeClient ?? true) await client.close();
    },
  };
}
