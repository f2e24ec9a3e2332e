// Glob patterns for `reloadServer.include`: `**` (any folders), `*`, `?`,
// `{a,b}` and `[abc]`, matched against '/'-separated paths relative to the
// workspace folder. A pattern without '/' matches the file name in any folder.

const cache = new Map<string, RegExp>();

export function globToRegExp(glob: string): RegExp {
  const cached = cache.get(glob);
  if (cached) return cached;
  let re = "";
  let i = 0;
  let braces = 0;
  while (i < glob.length) {
    const c = glob[i];
    if (c === "*") {
      if (glob[i + 1] === "*") {
        // `**/` = zero or more folders; `**` at the end = anything.
        if (glob[i + 2] === "/") {
          re += "(?:[^/]*/)*";
          i += 3;
        } else {
          re += ".*";
          i += 2;
        }
      } else {
        re += "[^/]*";
        i += 1;
      }
    } else if (c === "?") {
      re += "[^/]";
      i += 1;
    } else if (c === "[") {
      const end = glob.indexOf("]", i + 1);
      if (end < 0) {
        re += "\\[";
        i += 1;
      } else {
        let body = glob.slice(i + 1, end).replace(/\\/g, "\\\\");
        if (body.startsWith("!")) body = "^" + body.slice(1);
        re += `[${body}]`;
        i = end + 1;
      }
    } else if (c === "{") {
      braces += 1;
      re += "(?:";
      i += 1;
    } else if (c === "}" && braces > 0) {
      braces -= 1;
      re += ")";
      i += 1;
    } else if (c === "," && braces > 0) {
      re += "|";
      i += 1;
    } else {
      re += c.replace(/[.+^$()|\\]/g, "\\$&");
      i += 1;
    }
  }
  re += ")".repeat(braces);
  const out = new RegExp(`^${re}$`);
  cache.set(glob, out);
  return out;
}

/** Whether `relPath` (relative to the workspace folder, or absolute) matches any pattern. */
export function matchesAny(relPath: string, patterns: readonly string[]): boolean {
  const p = relPath.replace(/\\/g, "/");
  const base = p.slice(p.lastIndexOf("/") + 1);
  return patterns.some((pattern) => {
    const pat = pattern.replace(/\\/g, "/").replace(/^\.\//, "");
    const subject = pat.includes("/") ? p : base;
    return globToRegExp(pat).test(subject);
  });
}
