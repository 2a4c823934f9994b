/**
 * `WWW-Authenticate` parsing (RFC 9110 §11.6.1, RFC 6750 §3). Registries answer 401 with
 * `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push"`
 * or `Basic realm="..."`. Quoted values may hold commas (scope action lists) and escaped quotes, and one
 * header may carry several challenges, so a split on "," is wrong; this is a small tokenizer instead.
 */

/** One parsed challenge of a `WWW-Authenticate` header. */
export interface Challenge {
  /** Lowercase scheme: `bearer`, `basic`, ... */
  scheme: string;
  /** Parameters by lowercase name, values unquoted. */
  params: Record<string, string>;
  /** A token68 instead of parameters (rare for registries), kept for completeness. */
  token68?: string;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/** All challenges in a header value (several headers may be joined with ", "). Never throws. */
export function parseChallenges(header: string | undefined): Challenge[] {
  const out: Challenge[] = [];
  if (!header) return out;
  const s = header;
  let i = 0;
  const skip = (re: RegExp) => {
    while (i < s.length && re.test(s[i]!)) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < s.length && TCHAR.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  // Whether a `name =` parameter starts at i (as opposed to a new scheme or a token68).
  const paramAhead = (): boolean => {
    const save = i;
    const name = token();
    skip(/[ \t]/);
    const ok = name !== "" && s[i] === "=" && s[i + 1] !== "=";
    i = save;
    return ok;
  };
  const value = (): string => {
    if (s[i] !== '"') return token();
    i++;
    let v = "";
    while (i < s.length && s[i] !== '"') {
      if (s[i] === "\\" && i + 1 < s.length) i++;
      v += s[i++];
    }
    i++; // closing quote (or past the end when unterminated)
    return v;
  };

  while (i < s.length) {
    skip(/[ \t,]/);
    const scheme = token();
    if (scheme === "") {
      i++; // stray character: skip it rather than loop forever
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    skip(/[ \t]/);
    if (!paramAhead()) {
      const start = i;
      while (i < s.length && /[A-Za-z0-9\-._~+/=]/.test(s[i]!)) i++;
      if (i > start && (i >= s.length || /[ \t,]/.test(s[i]!))) challenge.token68 = s.slice(start, i);
      else i = start;
      continue;
    }
    for (;;) {
      skip(/[ \t]/);
      if (!paramAhead()) break;
      const name = token().toLowerCase();
      skip(/[ \t]/);
      i++; // "="
      skip(/[ \t]/);
      // Defined, not assigned: a parameter named `__proto__` is data, not the object's prototype.
      Object.defineProperty(challenge.params, name, {
        value: value(),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      skip(/[ \t]/);
      if (s[i] !== ",") break;
      while (s[i] === "," || s[i] === " " || s[i] === "\t") i++;
    }
  }
  return out;
}

/** The scopes in a challenge's `scope` parameter: space-separated (RFC 6749 §3.3); commas stay inside. */
export function challengeScopes(c: Challenge | undefined): string[] {
  return (c?.params.scope ?? "").split(" ").filter((x) => x !== "");
}

/** The scope a request on a repository needs: `repository:<name>:pull` or `...:pull,push` (scope.md). */
export function repositoryScope(repository: string, actions: "pull" | "push" | "pull,push" = "pull"): string {
  return `repository:${repository}:${actions}`;
}
