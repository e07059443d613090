/**
 * Benchmark dispatcher: `npm run bench [-- name...]` runs the named benchmarks (all by default).
 * Each benchmark module exports `main(): Promise<void>` and prints its own lines; register it below.
 */
const BENCHES: Record<string, () => Promise<{ main: () => Promise<void> }>> = {
  gptq: () => import('./gptq'),
  gptaq: () => import('./gptaq'),
  quality: () => import('./quality'),
  rotation: () => import('./rotation'),
  'rotation-ln': () => import('./quarotLayerNormReference'),
  flrq: () => import('./flrqReference'),
  lsp: () => import('./lsp'),
  sketch: () => import('./sketch'),
  hostile: () => import('./hostile'),
  scale: () => import('./scale'),
  foldseq: () => import('./foldingSequential'),
  hqq: () => import('./hqqFaithfulness'),
  rounding: () => import('./roundingQuality'),
  adaround: () => import('./adaroundFaithfulness'),
};

async function run(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const names = wanted.length ? wanted : Object.keys(BENCHES);
  for (const name of names) {
    const load = BENCHES[name];
    if (!load) {
      console.error(`unknown benchmark '${name}' (have: ${Object.keys(BENCHES).join(', ')})`);
      process.exitCode = 2;
      continue;
    }
    console.log(`== ${name}`);
    await (await load()).main();
  }
}

void run();
