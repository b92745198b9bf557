// Patch semantics against the behaviour documented for Kubernetes' patch types.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  applyPatchFrom,
  builtInStrategy,
  jsonPatch,
  mergePatch,
  strategicMergePatch,
} from './patch.ts';
import type { JsonObject } from './util.ts';

const deployment = () => ({
  metadata: { name: 'web', finalizers: ['a'] },
  spec: {
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
    template: {
      spec: {
        containers: [
          {
            name: 'web',
            image: 'web:1',
            imagePullPolicy: 'IfNotPresent',
            env: [
              { name: 'A', value: '1' },
              { name: 'B', value: '2' },
            ],
            ports: [{ containerPort: 80, protocol: 'TCP' }],
          },
          { name: 'sidecar', image: 'side:1' },
        ],
        tolerations: [{ key: 'x' }],
      },
    },
  },
});

const strategy = builtInStrategy('Deployment');

interface Container {
  name: string;
  image?: string;
  imagePullPolicy?: string;
  env?: unknown[];
  ports?: unknown;
  args?: unknown;
}
interface Doc {
  metadata: { labels?: Record<string, string>; finalizers?: string[] };
  spec: {
    strategy?: unknown;
    ports?: unknown;
    template: { spec: { containers: Container[]; tolerations?: unknown } };
  };
}

/** Strategic merge with the result typed for the assertions below. */
const smp = (original: object, patch: object, lookup = strategy) =>
  strategicMergePatch(original as JsonObject, patch as JsonObject, lookup) as unknown as Doc;

describe('strategic merge patch', () => {
  test('merges containers by name and keeps server defaults', () => {
    const out = smp(
      deployment(),
      {
        spec: {
          template: {
            spec: {
              '$setElementOrder/containers': [{ name: 'web' }, { name: 'sidecar' }],
              containers: [{ name: 'web', image: 'web:2' }],
            },
          },
        },
      },
      strategy,
    );
    const [web, sidecar] = out.spec.template.spec.containers;
    assert.ok(web && sidecar);
    assert.equal(web.image, 'web:2');
    assert.equal(web.imagePullPolicy, 'IfNotPresent');
    assert.equal(web.env?.length, 2);
    assert.equal(sidecar.name, 'sidecar');
  });

  test('deletes list items with $patch: delete and keys with null', () => {
    const out = smp(
      deployment(),
      {
        spec: {
          template: {
            spec: {
              containers: [
                { name: 'web', env: [{ name: 'A', $patch: 'delete' }], ports: null },
                { name: 'sidecar', $patch: 'delete' },
              ],
            },
          },
        },
      },
      strategy,
    );
    assert.deepEqual(
      out.spec.template.spec.containers.map((c) => c.name),
      ['web'],
    );
    assert.deepEqual(out.spec.template.spec.containers[0]?.env, [{ name: 'B', value: '2' }]);
    assert.equal(out.spec.template.spec.containers[0]?.ports, undefined);
  });

  test('replaces atomic lists and honours $retainKeys', () => {
    const out = smp(
      deployment(),
      {
        spec: {
          strategy: { $retainKeys: ['type'], type: 'Recreate', rollingUpdate: null },
          template: { spec: { tolerations: [{ key: 'y' }] } },
        },
      },
      strategy,
    );
    assert.deepEqual(out.spec.strategy, { type: 'Recreate' });
    assert.deepEqual(out.spec.template.spec.tolerations, [{ key: 'y' }]);
  });

  test('merges primitive sets and reorders by $setElementOrder', () => {
    const out = smp(
      deployment(),
      { metadata: { finalizers: ['b'], '$deleteFromPrimitiveList/finalizers': ['a'] } },
      strategy,
    );
    assert.deepEqual(out.metadata.finalizers, ['b']);
    const ordered = smp(
      deployment(),
      {
        spec: {
          template: {
            spec: { '$setElementOrder/containers': [{ name: 'sidecar' }, { name: 'web' }] },
          },
        },
      },
      strategy,
    );
    assert.deepEqual(
      ordered.spec.template.spec.containers.map((c) => c.name),
      ['sidecar', 'web'],
    );
  });

  test('merges Service ports by port number', () => {
    const out = smp(
      { spec: { ports: [{ port: 80, name: 'http', nodePort: 30001 }] } },
      {
        spec: {
          ports: [
            { port: 80, name: 'web' },
            { port: 443, name: 'https' },
          ],
        },
      },
      builtInStrategy('Service'),
    );
    assert.deepEqual(out.spec.ports, [
      { port: 80, name: 'web', nodePort: 30001 },
      { port: 443, name: 'https' },
    ]);
  });
});

describe('apply (server-side apply approximation)', () => {
  test('removes what the manager stopped setting and keeps what others set', () => {
    const previous = {
      metadata: { labels: { a: '1', old: 'x' } },
      spec: { template: { spec: { containers: [{ name: 'web', image: 'web:1', args: ['x'] }] } } },
    };
    const next = {
      metadata: { labels: { a: '2' } },
      spec: { template: { spec: { containers: [{ name: 'web', image: 'web:2' }] } } },
    };
    const live = deployment() as unknown as Doc;
    live.metadata.labels = { a: '1', old: 'x', other: 'kept' };
    live.spec.template.spec.containers[0] = {
      ...live.spec.template.spec.containers[0],
      name: 'web',
      args: ['x'],
    };
    const out = smp(live, applyPatchFrom(previous as JsonObject, next as JsonObject, strategy));
    assert.deepEqual(out.metadata.labels, { a: '2', other: 'kept' });
    const web = out.spec.template.spec.containers.find((c) => c.name === 'web');
    assert.ok(web);
    assert.equal(web.image, 'web:2');
    assert.equal(web.args, undefined);
    assert.equal(web.imagePullPolicy, 'IfNotPresent', 'defaults survive');
    assert.ok(out.spec.template.spec.containers.some((c) => c.name === 'sidecar'));
  });
});

describe('JSON and merge patches', () => {
  test('RFC 7386 merge patch replaces lists and deletes nulls', () => {
    assert.deepEqual(mergePatch({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { b: null }, l: [3] }), {
      a: { c: 2 },
      l: [3],
    });
  });

  test('RFC 6902 operations, including a failing test', () => {
    const doc = { metadata: { labels: { a: '1' } }, items: [1, 2] };
    const out = jsonPatch(doc, [
      { op: 'add', path: '/metadata/labels/b~1c', value: '2' },
      { op: 'replace', path: '/items/0', value: 9 },
      { op: 'add', path: '/items/-', value: 3 },
      { op: 'remove', path: '/metadata/labels/a' },
      { op: 'copy', from: '/items/0', path: '/first' },
      { op: 'move', from: '/first', path: '/moved' },
      { op: 'test', path: '/moved', value: 9 },
    ]);
    assert.deepEqual(out, { metadata: { labels: { 'b/c': '2' } }, items: [9, 2, 3], moved: 9 });
    assert.throws(
      () => jsonPatch(doc, [{ op: 'test', path: '/items/0', value: 5 }]),
      /test failed/,
    );
  });
});
