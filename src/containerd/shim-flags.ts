/**
 * The command line containerd gives a shim binary (reference containerd-shim-protocol.md §1.2), parsed with
 * Go's `flag` package rules as containerd's Go shims do: flags before the action, one or two dashes,
 * `-flag value` or `-flag=value`; boolean flags take no separate value (`-debug`, `-debug=true`). The action
 * is the first argument that is not a flag: `start`, `delete`, or nodewasi's internal `serve` (the daemon).
 */
import { invalidArgument } from "../internal/index.js";

export interface ShimFlags {
  namespace: string;
  /** containerd's gRPC socket (`-address`), hashed into the shim's socket address. */
  address: string;
  publishBinary: string;
  id: string;
  bundle: string;
  debug: boolean;
  /** `-v` / `-version`: print the version and exit. */
  version: boolean;
  /** `-info`: print a RuntimeInfo and exit. */
  info: boolean;
  /** The socket the `serve` daemon listens on (internal, as runc's `-socket`). */
  socket: string;
  /** `start`, `delete`, `serve`, or "" when none was given. */
  action: string;
  /** Arguments after the action. */
  rest: string[];
}

const STRING_FLAGS = {
  namespace: "namespace",
  address: "address",
  "publish-binary": "publishBinary",
  id: "id",
  bundle: "bundle",
  socket: "socket",
} as const;
const BOOL_FLAGS = { debug: "debug", v: "version", version: "version", info: "info" } as const;

/** Parses `argv` (without node and the script). Throws InvalidArgument for an unknown or valueless flag. */
export function parseShimFlags(argv: readonly string[]): ShimFlags {
  const flags: ShimFlags = {
    namespace: "",
    address: "",
    publishBinary: "",
    id: "",
    bundle: "",
    debug: false,
    version: false,
    info: false,
    socket: "",
    action: "",
    rest: [],
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      i++;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") break;
    const body = arg.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    if (name in BOOL_FLAGS) {
      const key = BOOL_FLAGS[name as keyof typeof BOOL_FLAGS];
      if (inline !== undefined && !/^(1|0|t|f|true|false|TRUE|FALSE|True|False)$/.test(inline)) {
        throw invalidArgument(`invalid boolean value "${inline}" for flag -${name}`);
      }
      flags[key] = inline === undefined || /^(1|t|true)$/i.test(inline);
      continue;
    }
    if (name in STRING_FLAGS) {
      const key = STRING_FLAGS[name as keyof typeof STRING_FLAGS];
      let value = inline;
      if (value === undefined) {
        if (i + 1 >= argv.length) throw invalidArgument(`flag needs an argument: -${name}`);
        value = argv[++i]!;
      }
      flags[key] = value;
      continue;
    }
    throw invalidArgument(`flag provided but not defined: -${name}`);
  }
  flags.action = argv[i] ?? "";
  flags.rest = argv.slice(i + 1);
  return flags;
}
