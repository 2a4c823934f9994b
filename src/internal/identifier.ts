/**
 * containerd's rule for identifiers (task, exec, container, namespace ids), so that an id is always safe as
 * one path component: letters and digits, in runs separated by single `.`, `_` or `-`, 76 characters at most
 * (`github.com/containerd/containerd/pkg/identifiers`, `Validate`, the same in 1.6 and 2.x). containerd checks
 * ids before a shim sees them; nodewasi's own clients (a direct gRPC or ttrpc client, `nodewasi run --name`)
 * do not go through containerd, so the shim checks again: `../evil` and `a/b` would otherwise name folders
 * outside `<root>/tasks`.
 */
import { invalidArgument } from "./shim-error.js";

/** containerd's `maxLength`. */
export const MAX_IDENTIFIER_LENGTH = 76;

/** containerd's `identifierRe`: `alphanum (separators alphanum)*`. */
const IDENTIFIER = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;

/** What the rule says, for messages. */
const RULE = `letters and digits, with single . _ or - between them, ${MAX_IDENTIFIER_LENGTH} characters at most`;

/** Whether `id` is a valid containerd identifier. */
export function isIdentifier(id: string): boolean {
  return id.length > 0 && id.length <= MAX_IDENTIFIER_LENGTH && IDENTIFIER.test(id);
}

/**
 * Throws InvalidArgument unless `id` is a valid identifier; `what` names it in the message (`task id`,
 * `exec id`, `--name`). An overlong id is quoted only in part.
 */
export function validateIdentifier(id: string, what: string): void {
  if (isIdentifier(id)) return;
  const hint = { details: { hint: `use ${RULE} (containerd's rule for ids)` } };
  if (id.length === 0) throw invalidArgument(`${what} is empty`, hint);
  if (id.length > MAX_IDENTIFIER_LENGTH) {
    throw invalidArgument(
      `${what} ${JSON.stringify(`${id.slice(0, 24)}...`)} is ${id.length} characters long; at most ${MAX_IDENTIFIER_LENGTH} are allowed`,
      hint,
    );
  }
  throw invalidArgument(`${what} ${JSON.stringify(id)} is not a valid id: use ${RULE}`, hint);
}
