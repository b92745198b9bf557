import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { advisoriesFor, advisoryWarnings, clearTarget } from '../../src/advisories.ts';
import {
  dependencyImageChanges,
  describeChanges,
  imagePins,
  splitImage,
  workloadChanges,
} from '../../src/changes.ts';
import type { Rendered, Workload } from '../../src/manifest.ts';

const milvus = (component: string, image: string): Workload => ({
  kind: 'Deployment',
  name: `rel-milvus-${component}`,
  labels: { 'app.kubernetes.io/name': 'milvus', component },
  fields: { [`image ${component}`]: image },
  object: {},
});
const dependency = (name: string, fields: Record<string, string>): Workload => ({
  kind: 'StatefulSet',
  name,
  labels: { app: name },
  fields,
  object: {},
});
const rendered = (...workloads: Workload[]): Rendered => ({
  objects: [],
  workloads,
  queue: undefined,
});

describe('workload changes', () => {
  const before = rendered(
    milvus('proxy', 'milvusdb/milvus:v2.5.10'),
    milvus('rootcoord', 'milvusdb/milvus:v2.5.10'),
    dependency('rel-etcd', { 'image etcd': 'docker.io/milvusdb/etcd:3.5.14-r1', replicas: '3' }),
    dependency('rel-minio', { 'image minio': 'minio/minio:RELEASE.2023-03-20T20-16-18Z' }),
  );
  const after = rendered(
    milvus('proxy', 'milvusdb/milvus:v2.5.16'),
    milvus('mixcoord', 'milvusdb/milvus:v2.5.16'),
    dependency('rel-etcd', { 'image etcd': 'docker.io/milvusdb/etcd:3.5.18-r1', replicas: '3' }),
    dependency('rel-minio', { 'image minio': 'minio/minio:RELEASE.2023-03-20T20-16-18Z' }),
  );
  const changes = workloadChanges(before, after, 'milvus');

  test('Milvus and dependencies apart, each field before and after', () => {
    assert.deepEqual(describeChanges(changes), [
      'Deployment/rel-milvus-rootcoord removed',
      'Deployment/rel-milvus-proxy: image proxy milvusdb/milvus:v2.5.10 → milvusdb/milvus:v2.5.16',
      'Deployment/rel-milvus-mixcoord added',
      'StatefulSet/rel-etcd: image etcd docker.io/milvusdb/etcd:3.5.14-r1 → docker.io/milvusdb/etcd:3.5.18-r1',
    ]);
    assert.deepEqual(
      changes.map((c) => c.milvus),
      [true, true, true, false],
    );
  });

  test('a dependency image change is pinned back with the release table keys', () => {
    const moved = dependencyImageChanges(changes);
    assert.deepEqual(moved, [
      {
        workload: 'StatefulSet/rel-etcd',
        container: 'etcd',
        before: 'docker.io/milvusdb/etcd:3.5.14-r1',
        after: 'docker.io/milvusdb/etcd:3.5.18-r1',
      },
    ]);
    assert.deepEqual(imagePins(moved), {
      pins: [
        ['etcd.image.registry', 'docker.io'],
        ['etcd.image.repository', 'milvusdb/etcd'],
        ['etcd.image.tag', '3.5.14-r1'],
      ],
      unpinned: [],
    });
  });

  test('what no key covers, or an image by digest, is left for a refusal', () => {
    const moved = [
      { workload: 'StatefulSet/rel-other', container: 'x', before: 'a:1', after: 'a:2' },
      {
        workload: 'StatefulSet/rel-minio',
        container: 'minio',
        before: 'minio/minio@sha256:0123',
        after: 'minio/minio:RELEASE.2024-05-28T17-19-04Z',
      },
    ];
    assert.deepEqual(imagePins(moved), { pins: [], unpinned: moved });
  });

  const images: [string, ReturnType<typeof splitImage>][] = [
    [
      'docker.io/milvusdb/etcd:3.5.18-r1',
      { registry: 'docker.io', repository: 'milvusdb/etcd', tag: '3.5.18-r1' },
    ],
    [
      'minio/minio:RELEASE.2024',
      { registry: undefined, repository: 'minio/minio', tag: 'RELEASE.2024' },
    ],
    [
      'localhost:5000/pulsar:3.0.7',
      { registry: 'localhost:5000', repository: 'pulsar', tag: '3.0.7' },
    ],
    ['busybox', undefined],
    ['a/b@sha256:00', undefined],
  ];
  for (const [image, expected] of images) {
    test(`splits ${image}`, () => assert.deepEqual(splitImage(image), expected));
  }
});

describe('advisories', () => {
  test('by series and first clear release', () => {
    assert.deepEqual(
      advisoriesFor('v2.6.4').map((a) => a.id),
      ['milvus#45276', 'CVE-2025-64513', 'milvus#45738', 'CVE-2026-26190'],
    );
    assert.deepEqual(
      advisoriesFor('v2.6.6').map((a) => a.id),
      ['CVE-2026-26190'],
    );
    assert.deepEqual(advisoriesFor('v2.6.10'), []);
    assert.deepEqual(
      advisoriesFor('v2.5.16').map((a) => a.id),
      ['CVE-2026-26190'],
    );
    assert.deepEqual(advisoriesFor('v2.5.27'), []);
    assert.equal(clearTarget(), 'v2.6.10');
  });

  test('warnings name the input, the sources and the clear release; none for a clear plan', () => {
    const [warning] = advisoryWarnings([{ version: 'v2.6.4', input: 'target-version' }]);
    assert.match(
      warning ?? '',
      /^Milvus v2\.6\.4 \(target-version\) has known problems: milvus#45276: /,
    );
    assert.match(warning ?? '', /https:\/\/nvd\.nist\.gov\/vuln\/detail\/CVE-2026-26190/);
    assert.match(
      warning ?? '',
      /v2\.6\.10 is the first 2\.6 release the action knows to be clear of them: set target-version to it/,
    );
    assert.deepEqual(advisoryWarnings([{ version: 'v2.6.10', input: 'target-version' }]), []);
  });
});
