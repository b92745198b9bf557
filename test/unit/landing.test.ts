import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { milvusName, operatorSigns, toPodInfo } from '../../src/inspect.ts';
import { podProblems } from '../../src/landing.ts';
import { stepProblems } from '../../src/rollout.ts';
import { LAYOUTS, pod } from './builders.ts';

function k8sPod(
  name: string,
  component: string,
  image: string,
  ready: boolean,
  extra: Partial<V1Pod['metadata']> = {},
): V1Pod {
  return {
    metadata: {
      name,
      labels: { 'app.kubernetes.io/name': 'milvus', 'app.kubernetes.io/instance': 'm', component },
      ...extra,
    },
    spec: {
      containers: [
        { name: component, image },
        { name: 'sidecar', image: 'busybox:1' },
      ],
    },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      containerStatuses: [
        {
          name: component,
          image,
          imageID: '',
          ready,
          restartCount: 3,
          state: ready ? { running: {} } : { waiting: { reason: 'CrashLoopBackOff' } },
        },
      ],
    },
  };
}

describe('reading pods', () => {
  test('a Milvus pod: its component, the Milvus container image, readiness', () => {
    assert.deepEqual(
      toPodInfo(k8sPod('m-milvus-proxy-1', 'proxy', 'milvusdb/milvus:v2.5.16', true), 'milvus'),
      {
        name: 'm-milvus-proxy-1',
        component: 'proxy',
        milvus: true,
        ready: true,
        phase: 'Running',
        reason: undefined,
        milvusImage: 'milvusdb/milvus:v2.5.16',
      },
    );
  });

  test('an unready pod says why', () => {
    const info = toPodInfo(
      k8sPod('m-milvus-proxy-1', 'proxy', 'milvusdb/milvus:v2.6.4', false),
      'milvus',
    );
    assert.equal(info.ready, false);
    assert.equal(info.reason, 'CrashLoopBackOff');
  });

  test("Pulsar's proxy shares the component label but is not Milvus", () => {
    const pulsar = k8sPod('m-pulsar-proxy-0', 'proxy', 'apachepulsar/pulsar:3.0', true);
    (pulsar.metadata as { labels: Record<string, string> }).labels['app.kubernetes.io/name'] =
      'pulsar';
    const info = toPodInfo(pulsar, 'milvus');
    assert.equal(info.milvus, false);
    assert.equal(info.milvusImage, undefined);
  });

  test('a pod being deleted is Terminating', () => {
    const info = toPodInfo(
      k8sPod('x', 'proxy', 'milvusdb/milvus:v2.5.16', true, { deletionTimestamp: new Date() }),
      'milvus',
    );
    assert.equal(info.phase, 'Terminating');
  });

  test('nameOverride changes the name label the chart uses', () => {
    assert.equal(milvusName({ nameOverride: 'vdb' }, 'milvus'), 'vdb');
    assert.equal(milvusName({}, 'milvus'), 'milvus');
  });

  test('operator-managed Deployments are recognised by owner and label', () => {
    const signs = operatorSigns([
      {
        metadata: {
          name: 'a-milvus-proxy',
          ownerReferences: [
            { apiVersion: 'milvus.io/v1beta1', kind: 'Milvus', name: 'a', uid: '1' },
          ],
        },
      },
      {
        metadata: {
          name: 'b-milvus-proxy',
          labels: { 'app.kubernetes.io/managed-by': 'milvus-operator' },
        },
      },
      { metadata: { name: 'c-milvus-proxy', labels: { 'app.kubernetes.io/managed-by': 'Helm' } } },
    ]);
    assert.deepEqual(
      signs.map((s) => s.deployment),
      ['a-milvus-proxy', 'b-milvus-proxy'],
    );
  });
});

describe('podProblems: when a hop has landed', () => {
  const expect = {
    version: 'v2.6.4',
    components: LAYOUTS.streaming,
    removes: ['indexnode' as const],
  };
  const milvus = (component: string, version = 'v2.6.4', over = {}) =>
    pod(`m-${component}`, {
      component,
      milvus: true,
      milvusImage: `milvusdb/milvus:${version}`,
      ...over,
    });
  const landed = LAYOUTS.streaming.map((c) => milvus(c));

  test('every component ready at the version: landed', () => {
    assert.deepEqual(podProblems([...landed, pod('m-etcd-0')], expect), []);
  });

  const cases: [string, ReturnType<typeof pod>[], RegExp][] = [
    [
      'an unready pod',
      [
        ...landed.slice(1),
        milvus('mixcoord', 'v2.6.4', { ready: false, reason: 'CrashLoopBackOff' }),
      ],
      /pods not ready: m-mixcoord \(CrashLoopBackOff\)/,
    ],
    [
      'a pod at the old version',
      [...landed.slice(1), milvus('mixcoord', 'v2.5.16')],
      /pods not at v2\.6\.4: m-mixcoord \(milvusdb\/milvus:v2\.5\.16\)/,
    ],
    [
      'a removed component still terminating',
      [...landed, milvus('indexnode', 'v2.5.16', { phase: 'Terminating', ready: false })],
      /removed components still present: m-indexnode/,
    ],
    [
      'an old pod of a kept component still terminating',
      [...landed, milvus('proxy', 'v2.5.16', { phase: 'Terminating', ready: false })],
      /pods still terminating: m-proxy \(Terminating\)/,
    ],
    [
      'a component without a ready pod',
      landed.filter((p) => p.component !== 'streamingnode'),
      /no ready pod for: streamingnode/,
    ],
    [
      'an unready dependency',
      [...landed, pod('m-pulsar-bookie-0', { ready: false, reason: 'Pending' })],
      /m-pulsar-bookie-0 \(Pending\)/,
    ],
  ];
  for (const [name, pods, problem] of cases) {
    test(name, () => assert.match(podProblems(pods, expect).join('; '), problem));
  }
});

describe('when a component has landed in an ordered rollout', () => {
  const at = (name: string, version: string, over: Partial<ReturnType<typeof pod>> = {}) =>
    pod(name, {
      component: 'querynode',
      milvus: true,
      milvusImage: `milvusdb/milvus:${version}`,
      ...over,
    });
  const cases: [string, ReturnType<typeof pod>[], 'ready' | 'updated', RegExp | undefined][] = [
    ['all new and ready', [at('q-1', 'v2.6.4'), at('q-2', 'v2.6.4')], 'ready', undefined],
    [
      'one old pod left',
      [at('q-1', 'v2.6.4'), at('q-2', 'v2.5.16')],
      'ready',
      /not at v2\.6\.4: q-2/,
    ],
    [
      'an old pod terminating',
      [at('q-1', 'v2.6.4'), at('q-2', 'v2.6.4'), at('q-3', 'v2.5.16', { phase: 'Terminating' })],
      'ready',
      /terminating: q-3/,
    ],
    [
      'new but not ready',
      [at('q-1', 'v2.6.4', { ready: false }), at('q-2', 'v2.6.4')],
      'ready',
      /not ready: q-1/,
    ],
    [
      'new, not ready, and only updated is asked',
      [at('q-1', 'v2.6.4', { ready: false }), at('q-2', 'v2.6.4')],
      'updated',
      undefined,
    ],
    ['fewer pods than replicas', [at('q-1', 'v2.6.4')], 'ready', /1 of 2 pods/],
  ];
  for (const [name, pods, done, problem] of cases) {
    test(name, () => {
      const problems = stepProblems(pods, 2, 'v2.6.4', done).join('; ');
      if (problem) assert.match(problems, problem);
      else assert.equal(problems, '');
    });
  }
});
