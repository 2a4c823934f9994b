/**
 * The registry client: the OCI distribution API on undici, with docker-compatible credentials. Pull code
 * uses `registrySource`; `nodewasi push` and test fixtures use the `RegistryClient` push primitives.
 */
export { type Challenge, challengeScopes, parseChallenges, repositoryScope } from "./challenge.js";
export {
  type CredentialProvider,
  type Credentials,
  DockerCredentials,
  type DockerCredentialsOptions,
} from "./credentials.js";
export { parseRegistryErrors, type RegistryErrorEntry } from "./errors.js";
export type { BlobData, UploadOptions } from "./push-protocol.js";
export {
  anonymous,
  type ManifestHead,
  RegistryClient,
  type RegistryClientOptions,
} from "./registry-client.js";
export { type RegistrySourceOptions, registrySource } from "./registry-source.js";
export { DEFAULT_RETRY, type RetryOptions } from "./retry.js";
export {
  DEFAULT_REGISTRY_TIMEOUT_MS,
  defaultRegistryTimeoutMs,
  REGISTRY_TIMEOUT_ENV,
} from "./timeouts.js";
