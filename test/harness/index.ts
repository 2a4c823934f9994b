/**
 * The integration-test harness: real servers on loopback (docker-registry, a bearer token server, a fault
 * proxy, a fake registry for manifests a real one refuses), the fixture images with what a correct pull must
 * report, and store checks; and what the unit tests beside the code share: a hand-answered HTTP server
 * (loopback-server), fake Task and Images services on gRPC and ttrpc (grpc-fixture, ttrpc-fixture), the
 * runner's modules, FIFOs and temp dirs (runner-kit), and bin/nodewasi in child processes (cli-work). Tests
 * start one registry per file in `before` and stop it in `after`; every server listens on a free port and
 * every directory is a fresh temp dir that `stop()` removes.
 */
export * from "./cli-work.js";
export * from "./docker-config.js";
export * from "./fake-registry.js";
export * from "./fault-proxy.js";
export * from "./fixtures.js";
export * from "./grpc-fixture.js";
export * from "./hostile-fixtures.js";
export * from "./loopback-server.js";
export * from "./modules.js";
export * from "./net.js";
export * from "./push.js";
export * from "./registry.js";
export * from "./runner-kit.js";
export * from "./store-check.js";
export * from "./token-server.js";
export * from "./ttrpc-fixture.js";
