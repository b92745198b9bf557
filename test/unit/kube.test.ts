import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { Kube } from '../../src/kube.ts';

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
