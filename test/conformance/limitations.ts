/**
 * Why node:wasi fails a test, for tests that fail both directly and through the shim with the same outcome
 * (so the shim is not the cause). Keyed by case id; each reason was checked by calling the WASI function
 * under node:wasi (Node v20.20.2, uvwasi 0.0.23), and limitations.test.ts checks them again on every run of
 * npm test. A case failing both ways that is not listed here is still reported, with what the guest wrote on
 * stderr and a note that no reason is recorded yet.
 */
export const NODE_LIMITATIONS: Readonly<Record<string, string>> = {
  "c/sock_shutdown-invalid_fd":
    "uvwasi answers `sock_shutdown` with `SHUT_RD` by ENOTSUP before it looks at the fd, so `shutdown(420, SHUT_RD)` gives ENOTSUP, not EBADF (with `SHUT_WR` alone it does give EBADF)",
  "c/sock_shutdown-not_sock":
    "uvwasi answers `sock_shutdown` with `SHUT_RD` by ENOTSUP for every fd, so `shutdown(STDOUT_FILENO, SHUT_RD)` gives ENOTSUP, not ENOTSOCK (with `SHUT_WR` its rights check answers ENOTCAPABLE)",
};
