#!/usr/bin/env node
// The second half of `npm run build` (after tsc): one bundled file per entry point, made by esbuild from tsc's
// own output in dist/src, for the processes that boot at every command and every task:
//
//   dist/bundle/esm/cli.js           bin/nodewasi (and the `nodewasi shim serve` daemon it starts)
//   dist/bundle/esm/shim.js          bin/containerd-shim-nodewasi-v1.mjs (start, delete, and the daemon)
//   dist/bundle/esm/runner-main.js   a task's runner process (wasi/runner-process.ts spawns it)
//   dist/bundle/esm/runner-guest.js  the runner's guest thread (runner-main.ts starts it)
//   dist/bundle/esm/compile-cache.js what the two launchers import first: V8's compile cache (internal/compile-cache.ts)
//   dist/bundle/esm/grpc-js.cjs      @grpc/grpc-js, which rpc/grpc-js.ts requires at its first use
//
// Why: a Node boot spends most of its time loading modules when they come as ~150 files and packages, each
// resolved, read and compiled on its own; one file per entry point is read once. The code's own lazy
// `import()`s stay lazy: each becomes one more file (a chunk) loaded only when the code asks for it, so
// `--help` still loads no image code, and the shim's `start` and `delete` no protobuf (the tests that check
// this read dist/bundle/meta.json to see which dist/src files each loaded chunk holds).
//
// The folder is 3 deep, as dist/src/<folder> is, so the paths the code makes relative to `import.meta.url`
// resolve the same from either build: ../../../package.json, ../../../bin/nodewasi, the runner's sibling
// files (./runner-main.js, ./runner-guest.js: hence these entries keep their names), and sandbox.ts's
// parent folder, which is what a bwrap sandbox binds read-only (dist/bundle from here, dist/src from tsc's).
// The library entry (dist/src/index.js) stays tsc's output.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const outdir = join(root, "dist", "bundle", "esm");

// The chunks of earlier builds are left in place: a daemon started before this build still imports its own
// (named by their content's hash) when it first needs them, and would fail if they were gone. Only the entry
// files are overwritten.
// @grpc/grpc-js is CommonJS that rpc/grpc-js.ts loads with require() at its first use (so the daemon in its
// default ttrpc mode never loads it), which esbuild cannot follow: without this it came from node_modules as
// ~70 files, each resolved, read and wrapped on its own, at every `nodewasi run`. It is bundled into one file
// of its own, and that require() is pointed at it. @grpc/proto-loader (and protobufjs under it) stays a
// require() of node_modules: grpc-js loads it only for channelz, which nodewasi never turns on.
const GRPC_JS = "./grpc-js.cjs";
const grpc = await build({
  absWorkingDir: root,
  entryPoints: { "grpc-js": "@grpc/grpc-js" },
  outdir,
  outExtension: { ".js": ".cjs" },
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  external: ["@grpc/proto-loader"],
  sourcemap: "linked",
  metafile: true,
  logLevel: "warning",
});
/** Points rpc/grpc-js.ts's require("@grpc/grpc-js") at grpc-js.cjs, a sibling of the chunk that holds it. */
const grpcJsPlugin = {
  name: "nodewasi-grpc-js",
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]src[\\/]rpc[\\/]grpc-js\.js$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      const contents = text.replace('require("@grpc/grpc-js")', `require(${JSON.stringify(GRPC_JS)})`);
      if (contents === text)
        throw new Error(`${args.path} no longer says require("@grpc/grpc-js"); update bundle.mjs`);
      return { contents, loader: "js" };
    });
  },
};

const result = await build({
  absWorkingDir: root,
  entryPoints: {
    cli: "dist/src/cli/main.js",
    shim: "dist/src/containerd/shim-main.js",
    "runner-main": "dist/src/wasi/runner-main.js",
    "runner-guest": "dist/src/wasi/runner-guest.js",
    "compile-cache": "dist/src/internal/compile-cache.js",
  },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  chunkNames: "chunk-[hash]",
  sourcemap: "linked",
  metafile: true,
  logLevel: "warning",
  plugins: [grpcJsPlugin],
  // CommonJS packages (commander, tar-stream, grpc-js) call require() for Node's builtins, which an ES module
  // does not have: give each output file one.
  banner: {
    js: 'import { createRequire as __nodewasiCreateRequire } from "node:module"; const require = __nodewasiCreateRequire(import.meta.url);',
  },
});
const meta = {
  inputs: { ...grpc.metafile.inputs, ...result.metafile.inputs },
  outputs: { ...grpc.metafile.outputs, ...result.metafile.outputs },
};
writeFileSync(join(root, "dist", "bundle", "meta.json"), JSON.stringify(meta));
