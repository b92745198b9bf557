import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ApiException } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { describeApiError, Kube } from '../../src/kube.ts';

const KUBECONFIG = stringify({
  apiVersion: 'v1',
  kind: 'Config',
  clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }],
  users: [{ name: 'u', user: { token: 'unit-test-token' } }],
  contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
  'current-context': 'ctx',
});

describe('Kube.load with the kubeconfig input', () => {
  const tempDir = mkdtempSync(join(tmpdir(), 'kube-load-'));
  after(() => rmSync(tempDir, { recursive: true, force: true }));

  test('an unknown context is refused, and no copy of the credentials is left behind', () => {
    assert.throws(
      () => Kube.load({ kubeconfig: KUBECONFIG, context: 'nope', tempDir }),
      /has no context 'nope'; it has: ctx/,
    );
    assert.deepEqual(readdirSync(tempDir), []);
  });

  test('a usable kubeconfig is copied privately for Helm, and dispose removes the copy', () => {
    const kube = Kube.load({ kubeconfig: KUBECONFIG, context: 'ctx', tempDir });
    const path = kube.helmEnv.KUBECONFIG ?? '';
    assert.ok(path.startsWith(tempDir));
    assert.equal(readFileSync(path, 'utf8'), KUBECONFIG);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(kube.helmEnv.HELM_KUBECONTEXT, 'ctx');
    kube.dispose();
    assert.deepEqual(readdirSync(tempDir), []);
  });
});

describe('API failures in words', () => {
  const caller = {
    server: 'https://k8s.example:6443',
    user: 'ci-bot',
    source: 'the kubeconfig input',
  };
  const status = (code: number, message: string) =>
    new ApiException(
      code,
      'HTTP-Code: 403 Message: Headers: {"x": "y"}',
      JSON.stringify({ kind: 'Status', message }),
      {},
    );
  const cases: [string, unknown, RegExp][] = [
    [
      '403 names the server, the kubeconfig user and what RBAC said',
      status(
        403,
        'pods is forbidden: User "system:serviceaccount:ci:bot" cannot list resource "pods"',
      ),
      /^the Kubernetes API server https:\/\/k8s\.example:6443 denied listing pods in milvus to the kubeconfig \(the kubeconfig input, user ci-bot\) \(403 Forbidden\): pods is forbidden: User "system:serviceaccount:ci:bot" cannot list resource "pods"\. Grant the missing permission/,
    ],
    [
      '401',
      status(401, 'Unauthorized'),
      /rejected the credentials of the kubeconfig \(the kubeconfig input, user ci-bot\) \(401 Unauthorized\)/,
    ],
    [
      'persistent 5xx',
      status(503, 'etcdserver: leader changed'),
      /answered HTTP 503 while listing pods in milvus, 8 times in a row: etcdserver: leader changed\./,
    ],
    [
      'a network failure',
      Object.assign(new TypeError('fetch failed'), { cause: { code: 'ENOTFOUND' } }),
      /^Cannot reach the Kubernetes API server https:\/\/k8s\.example:6443 \(ENOTFOUND\) while listing pods in milvus, after 8 tries; it comes from the kubeconfig \(the kubeconfig input, user ci-bot\)/,
    ],
  ];
  for (const [name, error, expected] of cases) {
    test(name, () => {
      const described = describeApiError(error, 'listing pods in milvus', caller, 8);
      assert.match(described.message, expected);
      assert.doesNotMatch(described.message, /HTTP-Code|Headers/);
    });
  }
});
