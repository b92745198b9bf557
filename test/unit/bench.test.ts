// The benchmark's own helpers, and the fairness of its manual script: the same hops as the action.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { controlPlaneMemory } from '../../bench/control-plane.ts';
import { describe as describeSummary, median, summarize, table } from '../../bench/stats.ts';
import { DEFAULT_PATH, HOP_TO_MIXCOORD, HOP_TO_STREAMING } from '../../src/milvus.ts';
import { ROOT } from '../support/paths.ts';

describe('bench statistics', () => {
  test('median of odd, even and empty samples', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  test('summary and its description', () => {
    const s = summarize([7.3, 7.62, 7.41]);
    assert.deepEqual(
      { median: s.median, min: s.min, max: s.max, n: s.n },
      { median: 7.41, min: 7.3, max: 7.62, n: 3 },
    );
    assert.equal(s.spread, 0.32);
    assert.equal(describeSummary(s, 2, ' s'), '7.41 s (7.30–7.62)');
    assert.equal(describeSummary(summarize([]), 2), '–');
  });

  test('tables pad their columns', () => {
    assert.equal(table(['a', 'bb'], [['ccc', 'd']]), 'a    bb\n---  --\nccc  d');
  });
});

describe('control plane memory', () => {
  test('sums the resident memory of the processes and counts a gone one as 0', () => {
    // pid 2^22 + 1 is above Linux's pid_max: never a live process.
    const memory = controlPlaneMemory({ pids: { self: process.pid, gone: 4_194_305 } });
    const self = memory.rss.byComponent.self ?? 0;
    assert.ok(self > 1, `this process's VmRSS is ${self} MiB`);
    assert.equal(memory.rss.byComponent.gone, 0);
    assert.equal(memory.rss.totalMiB, self);
    assert.ok((memory.peak.byComponent.self ?? 0) >= self, 'a peak below the current value');
  });
});

describe('bench/manual.sh', () => {
  const script = readFileSync(`${ROOT}bench/manual.sh`, 'utf8').replace(/\\\n/g, ' ');
  const upgrades = script.split('\n').filter((line) => /^"\$HELM" upgrade /.test(line));
  const sets = (line: string) =>
    [...line.matchAll(/--set ([^=\s]+)=(\S+)/g)].map(([, key, value]) => [key, value]);

  test('runs the action’s two hops with the documented flags', () => {
    assert.equal(upgrades.length, 2);
    const [hop1, hop2] = upgrades as [string, string];
    assert.deepEqual(sets(hop1), [
      ['image.all.tag', DEFAULT_PATH.intermediateVersion],
      ...HOP_TO_MIXCOORD.sets,
    ]);
    assert.deepEqual(sets(hop2), [
      ['image.all.tag', DEFAULT_PATH.targetVersion],
      ...HOP_TO_STREAMING.sets,
    ]);
    assert.match(hop1, new RegExp(`--version ${DEFAULT_PATH.intermediateChartVersion} `));
    assert.match(hop2, new RegExp(`--version ${DEFAULT_PATH.targetChartVersion} `));
    for (const hop of upgrades) {
      assert.match(hop, /--reset-then-reuse-values/);
      assert.match(hop, /--wait --timeout "\$TIMEOUT"/);
    }
  });
});
