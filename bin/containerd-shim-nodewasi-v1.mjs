#!/usr/bin/env node
// containerd's shim binary for runtime type io.containerd.nodewasi.v1 (put this folder on containerd's PATH).
// Build first (`npm run build`); the code is bundled into dist/bundle/esm/shim.js (scripts/bundle.mjs) from
// dist/src/containerd/shim-main.js. Run through the sh wrapper beside it (containerd-shim-nodewasi-v1), which
// answers the commonest `delete` without Node.
//
// containerd reads `start`'s stdout AND stderr together as the socket address, so no Node warning may ever
// reach them (node:wasi's ExperimentalWarning on Node 20 would): warnings are dropped here; the daemon logs
// into the bundle's log FIFO instead.
process.title = "containerd-shim-nodewasi-v1";
process.removeAllListeners("warning");
process.on("warning", () => {});

let shimMain;
try {
  // First, so that the bundle is compiled (or found compiled) through V8's cache on Node >= 22.1.
  (await import("../dist/bundle/esm/compile-cache.js")).enableCompileCache();
  ({ shimMain } = await import("../dist/bundle/esm/shim.js"));
} catch (err) {
  if (
    err?.code !== "ERR_MODULE_NOT_FOUND" ||
    !/dist\/bundle\/esm\/(shim|compile-cache)\.js/.test(err.message)
  )
    throw err;
  process.stderr.write("containerd-shim-nodewasi-v1: dist/ is missing; build first with `npm run build`\n");
  process.exit(1);
}
const code = await shimMain(process.argv.slice(2), {
  stdout: (data) => process.stdout.write(data),
  stderr: (text) => process.stderr.write(text),
  stdin: process.stdin,
  script: new URL(import.meta.url).pathname,
});
process.exitCode = code;
process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
