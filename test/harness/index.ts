/**
 * The integration-test harness: real servers on loopback (docker-registry, a bearer token server, a fault
 * proxy, a fake registry for manifests a real one refuses), the fixture images with what a correct pull must
 * report, and store checks. Tests start one registry per file in `before` and stop it in `after`; every server
 * listens on a free port and every directory is a fresh temp dir that `stop()` removes.
 */
export * from "./docker-config.js";
export * from "./fake-registry.js";
export * from "./fault-proxy.js";
export * from "./fixtures.js";
export * from "./hostile-fixtures.js";
export * from "./modules.js";
export * from "./net.js";
export * from "./push.js";
export * from "./registry.js";
export * from "./store-check.js";
export * from "./token-server.js";
