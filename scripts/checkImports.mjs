// Import checker (no dependencies): fails on any import cycle in the source tree and on any import
// that breaks the direction between parts set in scripts/importRules.mjs.
// Usage: node scripts/checkImports.mjs   (a stage of `npm test`; exit 1 with one line per problem)
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, relative, dirname, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as table from './importRules.mjs';

/** Import specifiers in TypeScript source, with whether each is type-only. Comments are skipped. */
export function importsOf(text) {
  const code = stripComments(text);
  const out = [];
  const statement = /(?:^|[;\n}])\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]/g;
  for (const m of code.matchAll(statement)) {
    const clause = m[3];
    // `import { type A, type B } from` is type-only too.
    const braced = /^\{([^}]*)\}$/.exec(clause.trim());
    const allTypes =
      braced !== null &&
      braced[1]
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .every((s) => s.startsWith('type '));
    out.push({ spec: m[4], typeOnly: Boolean(m[2]) || allTypes });
  }
  for (const m of code.matchAll(/(?:^|[;\n}])\s*import\s*['"]([^'"]+)['"]/g)) out.push({ spec: m[1], typeOnly: false });
  for (const m of code.matchAll(/\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ spec: m[1], typeOnly: false });
  return out;
}

function stripComments(text) {
  // Keeps string literals intact (a '//' inside a string is not a comment).
  return text.replace(/("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)|\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (all, str) => str ?? ' ');
}

/** The file a relative specifier names, among `files` (repo-relative posix paths), or undefined. */
export function resolveSpec(fromFile, spec, files) {
  const base = posix.normalize(posix.join(posix.dirname(fromFile), spec));
  const stem = base.replace(/\.(js|mjs|cjs)$/, '');
  for (const c of [base, `${stem}.ts`, `${stem}.tsx`, `${stem}.mts`, `${base}/index.ts`]) if (files.has(c)) return c;
  return undefined;
}

/** The part (from the rule table) a file belongs to, or undefined. */
export function partOf(file, parts = table.parts) {
  for (const p of parts) if (p.paths.some((x) => (x.endsWith('/') ? file.startsWith(x) : file === x))) return p.name;
  return undefined;
}

/** Strongly connected components of size > 1 (or self-loops): each one is a cycle. Tarjan, iterative. */
export function cyclesOf(graph) {
  let index = 0;
  const idx = new Map(),
    low = new Map(),
    onStack = new Set(),
    stack = [],
    out = [];
  for (const start of [...graph.keys()].sort()) {
    if (idx.has(start)) continue;
    const work = [[start, 0]];
    idx.set(start, index);
    low.set(start, index);
    index++;
    stack.push(start);
    onStack.add(start);
    while (work.length) {
      const frame = work[work.length - 1];
      const [v, i] = frame;
      const next = [...(graph.get(v) ?? [])].sort();
      if (i < next.length) {
        frame[1]++;
        const w = next[i];
        if (!idx.has(w)) {
          idx.set(w, index);
          low.set(w, index);
          index++;
          stack.push(w);
          onStack.add(w);
          work.push([w, 0]);
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
        continue;
      }
      work.pop();
      if (work.length) {
        const u = work[work.length - 1][0];
        low.set(u, Math.min(low.get(u), low.get(v)));
      }
      if (low.get(v) === idx.get(v)) {
        const comp = [];
        let w;
        do {
          w = stack.pop();
          onStack.delete(w);
          comp.push(w);
        } while (w !== v);
        if (comp.length > 1 || (graph.get(v) ?? new Set()).has(v)) out.push(comp.sort());
      }
    }
  }
  return out;
}

/**
 * Problems in a set of sources: `sources` maps repo-relative posix paths to file text.
 * Returns strings, one per problem, each naming the file(s) and the import.
 */
export function checkSources(sources, { parts = table.parts, rules = table.rules } = {}) {
  const files = new Set(sources.keys());
  const graph = new Map();
  const problems = [];
  for (const [file, text] of sources) {
    const edges = new Set();
    graph.set(file, edges);
    const from = partOf(file, parts);
    const rule = from && rules[from];
    for (const { spec, typeOnly } of importsOf(text)) {
      if (!spec.startsWith('.')) {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        if (rule?.deniedPackages?.includes(pkg)) problems.push(`${file}: imports '${spec}', which part '${from}' must not import`);
        continue;
      }
      const target = resolveSpec(file, spec, files);
      if (!target) continue; // not a checked source (a .json, a test helper outside the roots): no edge
      edges.add(target);
      const to = partOf(target, parts);
      if (!rule || !to || to === from) continue;
      if (rule.parts.includes(to)) continue;
      if (typeOnly && rule.typeOnly?.includes(to)) continue;
      const how = rule.typeOnly?.includes(to) ? ` (only \`import type\` is allowed from '${to}')` : '';
      problems.push(`${file}: imports ${target} — part '${from}' may not import part '${to}'${how}`);
    }
  }
  for (const cycle of cyclesOf(graph)) problems.push(`import cycle: ${cycle.join(' ↔ ')}`);
  return problems;
}

/** Every .ts source under the table's source roots, read from disk. */
export function readSources(root, roots = table.sourceRoots) {
  const sources = new Map();
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|tsx|mts)$/.test(name) && !name.endsWith('.d.ts'))
        sources.set(relative(root, p).split('\\').join('/'), readFileSync(p, 'utf8'));
    }
  };
  for (const r of roots) if (existsSync(join(root, r))) walk(join(root, r));
  return sources;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const sources = readSources(root);
  const problems = checkSources(sources);
  for (const p of problems) console.error(p);
  (problems.length ? console.error : console.log)(
    `checked imports of ${sources.size} files: ${problems.length ? `${problems.length} problem(s)` : 'no cycles, no rule broken'}`,
  );
  process.exit(problems.length ? 1 : 0);
}
