// Label and field selectors as the API server parses and matches them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResourceRegistry } from './resources.ts';
import {
  formatLabelSelector,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
} from './selectors.ts';
import type { KubeObject } from './types.ts';

test('label selectors: equality, sets and existence', () => {
  const labels = { app: 'milvus', component: 'proxy', 'app.kubernetes.io/instance': 'rel' };
  const match = (text: string) => matchesLabels(labels, parseLabelSelector(text));
  assert.ok(match('app=milvus'));
  assert.ok(match('app==milvus,component!=querynode'));
  assert.ok(match('component in (proxy, mixcoord)'));
  assert.ok(match('component notin (querynode)'));
  assert.ok(match('app.kubernetes.io/instance,!legacy'));
  assert.ok(!match('app=milvus,component=datanode'));
  assert.ok(!match('!component'));
  assert.ok(match(''));
  assert.throws(() => parseLabelSelector('app=(bad'), /unable to parse/);
  assert.equal(
    formatLabelSelector({
      matchLabels: { a: '1' },
      matchExpressions: [{ key: 'b', operator: 'In', values: ['x', 'y'] }],
    }),
    'a=1,b in (x,y)',
  );
});

test('field selectors: supported fields only', () => {
  const registry = new ResourceRegistry();
  const pods = registry.find('pods');
  assert.ok(pods);
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'n' },
    status: { phase: 'Running' },
  } as KubeObject;
  assert.ok(matchesFields(pod, parseFieldSelector(pods, 'metadata.name=p,status.phase!=Pending')));
  assert.ok(!matchesFields(pod, parseFieldSelector(pods, 'metadata.namespace==other')));
  assert.throws(() => parseFieldSelector(pods, 'spec.bogus=1'), /not supported/);
});
