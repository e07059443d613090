/**
 * Layer-name patterns: globs (`*` any run of characters including dots, `?` one character,
 * `[abc]` a class, `{a,b}` alternatives) or `re:<regex>` (full match). Patterns are bounded so that
 * a hostile recipe cannot make the server spin (length cap, no nested quantifiers).
 */

/** Longest pattern accepted. */
export const MAX_PATTERN_LENGTH = 500;

export type CompiledPattern = { ok: true; regex: RegExp } | { ok: false; error: string };

const cache = new Map<string, CompiledPattern>();

/** Compile a `match:` pattern (cached). */
export function compilePattern(pattern: string): CompiledPattern {
  const hit = cache.get(pattern);
  if (hit) return hit;
  const out = compileUncached(pattern);
  if (cache.size > 5000) cache.clear();
  cache.set(pattern, out);
  return out;
}

function compileUncached(pattern: string): CompiledPattern {
  if (pattern.length > MAX_PATTERN_LENGTH) return { ok: false, error: `pattern longer than ${MAX_PATTERN_LENGTH} characters` };
  if (pattern.startsWith('re:')) {
    const src = pattern.slice(3);
    // Nested quantifiers such as (a+)+ can backtrack exponentially; refuse them.
    if (/\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]/.test(src)) return { ok: false, error: 'nested quantifiers (e.g. `(a+)+`) are not allowed in re: patterns' };
    try { return { ok: true, regex: new RegExp(`^(?:${src})$`, 'u') }; } catch (e) { return { ok: false, error: `invalid regular expression: ${(e as Error).message}` }; }
  }
  let re = ''; let braces = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') { while (pattern[i + 1] === '*') i++; re += '.*'; }
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) return { ok: false, error: 'unclosed `[` in glob' };
      let body = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
      if (body.startsWith('!')) body = '^' + body.slice(1);
      re += `[${body}]`; i = end;
    } else if (c === '{') { braces++; re += '(?:'; }
    else if (c === '}' && braces > 0) { braces--; re += ')'; }
    else if (c === ',' && braces > 0) re += '|';
    else re += c.replace(/[.+^$()|\\\]{}]/g, '\\$&');
  }
  if (braces) return { ok: false, error: 'unclosed `{` in glob' };
  try { return { ok: true, regex: new RegExp(`^${re}$`, 'u') }; } catch (e) { return { ok: false, error: (e as Error).message }; }
}

/** Names among `names` that the pattern matches (empty when the pattern is invalid). */
export function matchLayers(pattern: string, names: readonly string[]): string[] {
  const c = compilePattern(pattern);
  if (!c.ok) return [];
  return names.filter((n) => c.regex.test(n));
}
