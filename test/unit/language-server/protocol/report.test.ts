/** Report versions: a version-1 report (low_rank errors as square roots) reads as version 2 (ratios). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { REPORT_VERSION, upgradeReport, type Report } from '../../../../protocol/report';
import { checkReport } from '../../../../webview/src/protocol';

const fixture = (n: string): Report => JSON.parse(readFileSync(join(__dirname, '../../../fixtures/reports', `${n}.report.json`), 'utf8'));

describe('report versions', () => {
  test('v1 → v2 squares low_rank.rel_error_before/after and leaves everything else as it was', () => {
    const v2 = fixture('stories260K-flrq');
    assert.equal(v2.version, REPORT_VERSION);
    const v1 = {
      ...v2,
      version: 1,
      layers: v2.layers.map((l) =>
        l.low_rank
          ? {
              ...l,
              low_rank: {
                ...l.low_rank,
                rel_error_before: Math.sqrt(l.low_rank.rel_error_before),
                rel_error_after: Math.sqrt(l.low_rank.rel_error_after),
              },
            }
          : l,
      ),
    };
    assert.match(checkReport(v1) ?? '', /unsupported report version 1 \(expected 2/);
    const up = upgradeReport(v1) as Report;
    assert.equal(checkReport(up), null);
    assert.equal(up.layers.length, v2.layers.length);
    for (const [i, l] of up.layers.entries()) {
      const want = v2.layers[i];
      assert.equal(l.rel_error, want.rel_error);
      if (!want.low_rank) {
        assert.deepEqual(l, want);
        continue;
      }
      assert.ok(Math.abs(l.low_rank!.rel_error_before - want.low_rank.rel_error_before) <= 1e-12 * want.low_rank.rel_error_before);
      assert.ok(Math.abs(l.low_rank!.rel_error_after - want.low_rank.rel_error_after) <= 1e-12 * want.low_rank.rel_error_after);
    }
    assert.ok(
      up.layers.some((l) => l.low_rank),
      'the fixture has low-rank layers',
    );
  });

  test('the current version and unreadable documents pass through untouched', () => {
    const v2 = fixture('stories260K-gptq-w4');
    assert.equal(upgradeReport(v2), v2);
    assert.equal(upgradeReport(null), null);
    const future = { version: 99 };
    assert.equal(upgradeReport(future), future);
  });
});
