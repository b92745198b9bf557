// `npm run demo` runs to the end and shows what it promises: the workloads before and after, the
// action's log rendered for a terminal, its outputs and job summary, and the message queue kept.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { NODE } from '../support/harness.ts';
import { fixtureSecretNeedles } from '../support/milvus-release.ts';
import { ROOT } from '../support/paths.ts';

test('the demo upgrades a 2.5 cluster and shows the queue kept', { timeout: 180_000 }, async () => {
  const { stdout } = await promisify(execFile)(NODE, ['scripts/demo.ts'], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  const sections = new Map(
    stdout
      .split(/^━━ /m)
      .slice(1)
      .map((part) => {
        const [title = '', ...body] = part.split('\n');
        return [title.replace(/ ━+$/, ''), body.join('\n')] as const;
      }),
  );
  const section = (title: string) => {
    const body = sections.get(title);
    assert.ok(body !== undefined, `no "${title}" section in:\n${[...sections.keys()].join('\n')}`);
    return body;
  };

  const before = section('The cluster before');
  assert.match(before, /Deployment +│ my-milvus-rootcoord +│ 1\/1 +│ milvusdb\/milvus:v2\.5\.4/);
  assert.match(before, /StatefulSet +│ my-milvus-pulsar-bookie /);

  const log = section('The action (dist/index.js on Node 24, as a runner runs it)');
  const groups = [
    '▶ Inputs',
    '▶ Milvus (health and inventory)',
    '▶ Plan',
    '▶ Hop 1: v2.5.4 → v2.5.16',
  ];
  for (const group of [...groups, '▶ Verify', '▶ Milvus (what it holds now)']) {
    assert.ok(log.includes(group), `the log has no ${group}`);
  }
  assert.match(log, /⚠ Warning: .*pinning pulsarv3\.enabled=false/);
  assert.match(log, /The action succeeded/);

  assert.match(section('Outputs'), /│ milvus-version +│ v2\.6\.4 /);
  assert.match(section('Job summary'), /✅ my-milvus upgraded v2\.5\.4 → v2\.6\.4/);
  assert.match(section('Job summary'), /│ Message queue │ pulsar +│ pulsar +│/);
  assert.match(
    section('Job summary'),
    /│ default\/books +│ 1000 +│ loaded +│ vector: HNSW\/L2 Finished +│ ✅/,
  );

  const after = section('The cluster after');
  assert.match(after, /Deployment +│ my-milvus-streamingnode +│ 1\/1 +│ milvusdb\/milvus:v2\.6\.4/);
  assert.doesNotMatch(after, /rootcoord|indexnode|pulsarv3/);
  assert.match(after, /StatefulSet +│ my-milvus-pulsar-bookie /);

  const queue = section('The message queue was kept');
  assert.equal((queue.match(/^✔ /gm) ?? []).length, 3, queue);
  assert.doesNotMatch(queue, /✖/);

  // What a runner hides stays hidden: no raw commands, no colours in a pipe, no secrets.
  assert.doesNotMatch(stdout, /::(group|endgroup|debug|add-mask|warning)/);
  assert.ok(!stdout.includes('\u001b['), 'colours although stdout is not a terminal');
  for (const secret of fixtureSecretNeedles()) assert.ok(!stdout.includes(secret));
  assert.doesNotMatch(stdout, /\b[0-9a-f]{48}\b/, 'the API token is printed');
});
