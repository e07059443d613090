/** The import checker: cycles and part-direction rules on small in-memory trees, and on the real tree. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { checkSources, cyclesOf, importsOf, readSources } from '../../../scripts/checkImports.mjs';

const root = join(__dirname, '../../..');
const parts = [
  { name: 'protocol', paths: ['src/protocol/'] },
  { name: 'engine', paths: ['src/engine/'] },
  { name: 'webview', paths: ['src/webview/'] },
];
const rules = {
  protocol: { parts: [] },
  engine: { parts: ['protocol'], deniedPackages: ['vscode'] },
  webview: { parts: [], typeOnly: ['protocol'] },
};
const check = (files: Record<string, string>) => checkSources(new Map(Object.entries(files)), { parts, rules });

describe('checkImports', () => {
  test('reads static, type-only, re-export, side-effect and dynamic imports; ignores comments and strings', () => {
    const refs = importsOf(
      [
        "import { a } from './a';",
        "import type { B } from './b';",
        "import { type C, type D } from './c';",
        "import { type E, f } from './e';",
        "export * from './g';",
        "import './h';",
        "const m = await import('./i');",
        "// import { x } from './commented';",
        "/* import { y } from './blocked'; */",
        'const s = "import { z } from \'./string\'";',
      ].join('\n'),
    );
    assert.deepEqual(
      refs.map((r) => `${r.spec}${r.typeOnly ? ':type' : ''}`).sort(),
      ['./a', './b:type', './c:type', './e', './g', './h', './i'].sort(),
    );
  });

  test('finds a three-file cycle, also through type-only imports, and names every file in it', () => {
    const problems = check({
      'src/engine/a.ts': "import { b } from './b';",
      'src/engine/b.ts': "import type { C } from './c';",
      'src/engine/c.ts': "import { a } from './a.js';",
      'src/engine/d.ts': "import { a } from './a';",
    });
    assert.deepEqual(problems, ['import cycle: src/engine/a.ts ↔ src/engine/b.ts ↔ src/engine/c.ts']);
  });

  test('a leaf types module breaks the cycle', () => {
    assert.deepEqual(
      check({
        'src/engine/a.ts': "import { b } from './b';",
        'src/engine/b.ts': "import type { C } from './types';",
        'src/engine/types.ts': 'export interface C { x: number }',
      }),
      [],
    );
  });

  test('refuses an import against the direction and a denied package, naming file and target', () => {
    const problems = check({
      'src/protocol/p.ts': "import { run } from '../engine/run';",
      'src/engine/run.ts': "import * as vscode from 'vscode';\nimport type { P } from '../protocol/p';",
    });
    assert.ok(
      problems.some((p) => p === "src/protocol/p.ts: imports src/engine/run.ts — part 'protocol' may not import part 'engine'"),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p === "src/engine/run.ts: imports 'vscode', which part 'engine' must not import"),
      problems.join('\n'),
    );
  });

  test('a type-only part allows `import type` and refuses a value import', () => {
    assert.deepEqual(check({ 'src/webview/v.ts': "import type { P } from '../protocol/p';", 'src/protocol/p.ts': '' }), []);
    const problems = check({ 'src/webview/v.ts': "import { P } from '../protocol/p';", 'src/protocol/p.ts': '' });
    assert.match(
      problems.join('\n'),
      /src\/webview\/v\.ts: imports src\/protocol\/p\.ts — part 'webview' may not import part 'protocol' \(only `import type`/,
    );
  });

  test('cyclesOf reports self-imports and leaves DAGs alone', () => {
    assert.deepEqual(cyclesOf(new Map([['a', new Set(['a'])]])), [['a']]);
    assert.deepEqual(
      cyclesOf(
        new Map([
          ['a', new Set(['b'])],
          ['b', new Set(['c'])],
          ['c', new Set<string>()],
        ]),
      ),
      [],
    );
  });

  test('the source tree has no cycle and breaks no rule; the script exits 0 (1 on a problem)', () => {
    assert.ok(readSources(root).size > 100);
    const r = spawnSync(process.execPath, [join(root, 'scripts/checkImports.mjs')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /no cycles, no rule broken/);
  });
});
