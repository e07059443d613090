/** Plain-text tables of a report for terminals (the CLI): FP vs quantized, then per layer. */
import type { Report } from '../../protocol/report';
import type { LeftAloneTensor, ModelSummary } from '../../protocol/model';

/** Left-aligns the first column and right-aligns the rest. */
export function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i])))
      .join('  ')
      .trimEnd();
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

const num = (v: number | undefined, digits = 4) => (v === undefined || Number.isNaN(v) ? '-' : Number(v.toPrecision(digits)).toString());
const bytes = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
const pct = (v: number | undefined) => (v === undefined ? '-' : `${(v * 100).toFixed(2)}%`);

/**
 * FP vs quantized: perplexity, KL mean/p99, top-1 agreement, CER, accuracy, output agreement (cosine,
 * SQNR, argmax), size, bits/weight, latency.
 */
export function summaryTable(r: Report): string {
  const m = r.metrics;
  const rows: string[][] = [];
  if (m.fp.perplexity !== undefined || m.quantized.perplexity !== undefined)
    rows.push(['perplexity', num(m.fp.perplexity), num(m.quantized.perplexity)]);
  if (m.kl_divergence) {
    rows.push(['KL mean (FP‖Q)', '0', num(m.kl_divergence.mean)]);
    rows.push(['KL p99', '0', num(m.kl_divergence.p99)]);
  }
  if (m.top1_agreement !== undefined) rows.push(['top-1 agreement', '100.00%', pct(m.top1_agreement)]);
  if (m.fp.cer !== undefined || m.quantized.cer !== undefined) rows.push(['CER', pct(m.fp.cer), pct(m.quantized.cer)]);
  if (m.fp.accuracy_top1 !== undefined) rows.push(['accuracy top-1', pct(m.fp.accuracy_top1), pct(m.quantized.accuracy_top1)]);
  if (m.fp.accuracy_top5 !== undefined) rows.push(['accuracy top-5', pct(m.fp.accuracy_top5), pct(m.quantized.accuracy_top5)]);
  if (m.output_agreement) {
    const a = m.output_agreement;
    rows.push(['output cosine', '1', a.cosine.toFixed(5)]);
    rows.push(['output SQNR (dB)', 'inf', a.sqnr_db === null || !Number.isFinite(a.sqnr_db) ? 'inf' : a.sqnr_db.toFixed(1)]);
    rows.push(['output argmax agreement', '100.00%', pct(a.argmax_agreement)]);
  }
  rows.push(['size', bytes(r.size.fp_bytes), `${bytes(r.size.quantized_bytes)} (${pct(r.size.quantized_bytes / r.size.fp_bytes)})`]);
  for (const f of r.size.by_format ?? []) {
    rows.push([
      f.format === 'float'
        ? '  bytes left float (other weights, graph)'
        : `  bytes as ${f.format} (${f.layers} layer${f.layers === 1 ? '' : 's'})`,
      '',
      bytes(f.bytes),
    ]);
  }
  rows.push(['bits/weight (quantized layers)', '32', num(r.size.bits_per_weight)]);
  if (r.layers.some((l) => l.runtime_bits_per_weight !== undefined)) {
    const params = r.layers.reduce((t, l) => t + l.params, 0);
    const held = r.layers.reduce((t, l) => t + (l.runtime_bits_per_weight ?? l.bits_per_weight) * l.params, 0);
    rows.push(['bits/weight in memory (packed decoded at load)', '32', num(params ? held / params : 0)]);
  }
  if (m.fp.latency_ms !== undefined) rows.push(['latency/batch (ms)', num(m.fp.latency_ms, 3), num(m.quantized.latency_ms, 3)]);
  if (m.decode_latency) {
    const d = m.decode_latency,
      how = d.mode === 'kv_cache' ? 'KV cache' : 'full sequence';
    rows.push([`prefill ${d.prompt_tokens} tokens (ms)`, num(d.fp.prefill_ms, 3), num(d.quantized.prefill_ms, 3)]);
    rows.push([`decode ms/token (${how})`, num(d.fp.decode_ms_per_token, 3), num(d.quantized.decode_ms_per_token, 3)]);
  }
  if (r.accuracy_level !== undefined)
    rows.push(['MatMulNBits activations (level)', '-', `${ACTIVATION_TYPES[r.accuracy_level] ?? '?'} (${r.accuracy_level})`]);
  return table(['metric', 'fp', 'quantized'], rows);
}

/** What MatMulNBits computes its activations in, by accuracy_level (0 = unset: fp32). */
const ACTIVATION_TYPES: Record<number, string> = { 0: 'fp32', 1: 'fp32', 2: 'fp16', 3: 'bf16', 4: 'int8' };

/** Greedy generation, FP and compressed one above the other, aligned (one row per model); '' when the report has none. */
export function generationTable(r: Report): string {
  const g = r.metrics.generation;
  if (!g) return '';
  const at = g.first_divergence === null ? 'never (identical)' : `token ${g.first_divergence}`;
  const head = `generation: ${g.tokens} tokens from ${JSON.stringify(g.prompt)} (${g.mode === 'kv_cache' ? 'through the KV cache' : 'full-sequence'}); first divergence: ${at}`;
  const text = (s: string) => JSON.stringify(s);
  // Texts are left-aligned (table() right-aligns), so the two continuations line up character by character.
  return [
    head,
    ...[
      ['fp', g.fp.text],
      ['quantized', g.quantized.text],
    ].map(([k, v]) => `${k.padEnd(9)}  ${text(v)}`),
  ].join('\n');
}

/** One row per quantized layer. */
export function layerTable(r: Report): string {
  // A `pruned` column (the measured pruned fraction, the pattern asked and how the file stores it) only when a layer was pruned.
  const pruned = r.layers.some((l) => l.sparsity);
  return table(
    ['layer', 'shape', 'method', 'bits', 'group', 'format', 'rel_error', 'bits/w', ...(pruned ? ['pruned'] : [])],
    r.layers.map((l) => [
      l.name,
      `${l.shape[0]}x${l.shape[1]}`,
      l.method,
      String(l.bits),
      String(l.group_size),
      l.format ?? r.format,
      l.rel_error.toExponential(3),
      num(l.bits_per_weight),
      ...(pruned
        ? [
            l.sparsity
              ? `${(100 * l.sparsity.pruned).toFixed(1)}% (${[l.sparsity.pattern, l.sparsity.storage].filter(Boolean).join(', ')})`
              : '-',
          ]
        : []),
    ]),
  );
}

/** yes / yes (embedding, opt-in) / yes (tied with X) / no: reason. */
function quantizableCell(l: ModelSummary['layers'][number]): string {
  if (!l.quantizable) return `no: ${l.reason ?? ''}`;
  const notes = [l.embedding ? 'embedding, opt-in' : '', l.tiedWith ? `tied with ${l.tiedWith}` : ''].filter(Boolean);
  return notes.length ? `yes (${notes.join('; ')})` : 'yes';
}

/** `lowbit inspect`: the model's layers. */
export function inspectTable(s: ModelSummary): string {
  const head =
    `${s.path}\nopset ${s.opset}  producer ${s.producer || '-'}  ${s.totalParams} weight params in layers  ${bytes(s.fileBytes)}\n` +
    `inputs:  ${s.inputs.map((i) => `${i.name} ${i.dtype} [${i.dims.join(',')}]`).join(', ')}\n` +
    `outputs: ${s.outputs.map((i) => `${i.name} ${i.dtype} [${i.dims.join(',')}]`).join(', ')}\n`;
  return (
    head +
    table(
      ['layer', 'op', 'shape [out,in]', 'params', 'dtype', 'quantizable'],
      s.layers.map((l) => [l.name, l.op, `${l.shape[0]}x${l.shape[1]}`, String(l.params), l.dtype, quantizableCell(l)]),
    ) +
    (s.leftAlone ? `\n\n${leftAloneTable(s.leftAlone, 'compressing every quantizable layer')}` : '')
  );
}

/** Float tensors of at least 16 KiB left in full precision, with why and their share of the file. */
export function leftAloneTable(rows: readonly LeftAloneTensor[], what: string): string {
  if (!rows.length) return `left alone (float tensors ≥ 16 KiB) by ${what}: none`;
  const total = rows.reduce((a, r) => a + r.bytes, 0);
  return (
    `left alone (float tensors ≥ 16 KiB) by ${what}: ${rows.length} tensors, ${bytes(total)} (${pct(rows.reduce((a, r) => a + r.share, 0))} of the file)\n` +
    table(
      ['tensor', 'bytes', 'share', 'reason'],
      rows.map((r) => [r.name, bytes(r.bytes), pct(r.share), r.reason]),
    )
  );
}
