/**
 * Pushes built images (a top descriptor plus a map of blobs, as src/oci/build.ts returns them) to a registry
 * with plain distribution-spec requests: blobs by POST + PUT, manifests children first so that the registry's
 * reference checks pass. Written here with fetch rather than with the registry client under test, so a fault in
 * the client cannot hide behind a fixture that was never stored. Answers Basic and Bearer challenges.
 */
import type { Digest } from "../../src/internal/index.js";
import { INDEX_TYPES, MANIFEST_TYPES, MediaType } from "../../src/oci/media-types.js";
import type { Descriptor } from "../../src/oci/types.js";

/** What the builder returns: the top manifest or index and every blob it references, manifests included. */
export interface Built {
  manifest: Descriptor;
  blobs: Map<Digest, Buffer>;
}

export interface PushAuth {
  user: string;
  password: string;
}

/** A tiny client for one registry and repository that answers auth challenges. */
class Pusher {
  #authz: string | undefined;
  constructor(
    readonly host: string,
    readonly repo: string,
    readonly auth: PushAuth | undefined,
  ) {}

  async request(method: string, pathOrUrl: string, body?: Buffer, headers: Record<string, string> = {}) {
    const url = pathOrUrl.startsWith("http") ? pathOrUrl : `http://${this.host}${pathOrUrl}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      const h: Record<string, string> = { ...headers };
      if (this.#authz) h.authorization = this.#authz;
      const res = await fetch(url, {
        method,
        headers: h,
        ...(body ? { body } : {}),
        redirect: "manual",
      }).catch((err: Error) => {
        throw new Error(`push: ${method} ${url}: ${err.message} (${String(err.cause)})`, { cause: err });
      });
      if (res.status !== 401 || attempt === 1) return res;
      await res.arrayBuffer();
      await this.#answer(res.headers.get("www-authenticate") ?? "");
    }
    throw new Error("unreachable");
  }

  async #answer(challenge: string) {
    if (!this.auth)
      throw new Error(`push to ${this.host}/${this.repo}: 401 and no credentials (${challenge})`);
    const basic = `Basic ${Buffer.from(`${this.auth.user}:${this.auth.password}`).toString("base64")}`;
    if (/^basic/i.test(challenge)) {
      this.#authz = basic;
      return;
    }
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const url = new URL(params.realm ?? "");
    if (params.service) url.searchParams.set("service", params.service);
    url.searchParams.set("scope", `repository:${this.repo}:pull,push`);
    const res = await fetch(url, { headers: { authorization: basic } });
    if (!res.ok) throw new Error(`token for push: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { token?: string; access_token?: string };
    this.#authz = `Bearer ${body.token ?? body.access_token}`;
  }

  async uploadBlob(digest: Digest, data: Buffer): Promise<void> {
    const head = await this.request("HEAD", `/v2/${this.repo}/blobs/${digest}`);
    if (head.ok) return;
    const start = await this.request("POST", `/v2/${this.repo}/blobs/uploads/`);
    await start.arrayBuffer();
    const location = start.headers.get("location");
    if (start.status !== 202 || !location) throw new Error(`start upload ${digest}: HTTP ${start.status}`);
    const url = new URL(location, `http://${this.host}`);
    url.searchParams.set("digest", digest);
    const put = await this.request("PUT", url.toString(), data, {
      "content-type": "application/octet-stream",
    });
    if (put.status !== 201) throw new Error(`upload ${digest}: HTTP ${put.status} ${await put.text()}`);
    await put.arrayBuffer();
  }

  async putManifest(ref: string, bytes: Buffer, mediaType: string): Promise<void> {
    const res = await this.request("PUT", `/v2/${this.repo}/manifests/${ref}`, bytes, {
      "content-type": mediaType,
    });
    if (res.status !== 201)
      throw new Error(`put manifest ${this.repo}:${ref}: HTTP ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  }
}

/** The media type a manifest declares, or what its shape says when the field is missing (wasm-to-oci). */
function manifestMediaType(desc: Descriptor, json: { mediaType?: string; manifests?: unknown }): string {
  if (json.mediaType) return json.mediaType;
  if (INDEX_TYPES.includes(desc.mediaType) || MANIFEST_TYPES.includes(desc.mediaType)) return desc.mediaType;
  return json.manifests ? MediaType.OciIndex : MediaType.OciManifest;
}

/**
 * Pushes `built` as `repoTag` (`name:tag`) to `host`: every blob, every child manifest by digest, then the top
 * manifest or index under the tag. Returns the top digest.
 */
export async function pushBuilt(
  host: string,
  repoTag: string,
  built: Built,
  auth?: PushAuth,
): Promise<Digest> {
  const colon = repoTag.lastIndexOf(":");
  const [repo, tag] =
    colon > repoTag.lastIndexOf("/")
      ? [repoTag.slice(0, colon), repoTag.slice(colon + 1)]
      : [repoTag, "latest"];
  const pusher = new Pusher(host, repo, auth);
  const done = new Set<string>();
  const visit = async (desc: Descriptor, ref: string): Promise<void> => {
    if (done.has(`${desc.digest}@${ref}`)) return;
    done.add(`${desc.digest}@${ref}`);
    const data = built.blobs.get(desc.digest);
    if (!data) return; // referenced but not built (e.g. an external layer with urls): leave it out
    const isManifest = INDEX_TYPES.includes(desc.mediaType) || MANIFEST_TYPES.includes(desc.mediaType);
    if (!isManifest) {
      await pusher.uploadBlob(desc.digest, data);
      return;
    }
    const json = JSON.parse(data.toString("utf8")) as {
      mediaType?: string;
      manifests?: Descriptor[];
      config?: Descriptor;
      layers?: Descriptor[];
      subject?: Descriptor;
    };
    for (const child of json.manifests ?? []) await visit(child, child.digest);
    if (json.config) await visit(json.config, json.config.digest);
    for (const layer of json.layers ?? []) await visit(layer, layer.digest);
    await pusher.putManifest(ref, data, manifestMediaType(desc, json));
  };
  await visit(built.manifest, tag);
  return built.manifest.digest;
}
