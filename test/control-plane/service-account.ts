// A kubeconfig for a ServiceAccount with only the permissions a test gives it, for testing what a
// client can do under RBAC: the ServiceAccount, its Roles and bindings, and a token from the
// TokenRequest API, as `kubectl create token` gets one.
import { parseAllDocuments, stringify } from 'yaml';
import type { Api, ClusterObjects, KubeObject } from './api.ts';

const BINDINGS = new Set(['RoleBinding', 'ClusterRoleBinding']);

/** A kubeconfig with one cluster, user and context, named `test` like the admin one. */
export function kubeconfigYaml(
  server: string,
  caPem: string,
  token: string,
  names: { user?: string; namespace?: string } = {},
): string {
  const user = names.user ?? 'test';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'test',
        cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
      },
    ],
    users: [{ name: user, user: { token } }],
    contexts: [
      {
        name: 'test',
        context: { cluster: 'test', user, namespace: names.namespace ?? 'default' },
      },
    ],
    'current-context': 'test',
    preferences: {},
  });
}

/**
 * Creates ServiceAccount `name` in `namespace` (and the namespace), applies `roleYaml` (Role,
 * ClusterRole, RoleBinding, ClusterRoleBinding documents; a namespaced one without a namespace
 * goes to `namespace`). When the YAML has no binding, each Role and ClusterRole in it is bound to
 * the ServiceAccount. Returns a kubeconfig (user `name`) with a token valid for an hour.
 */
export async function serviceAccountKubeconfig(
  api: Api,
  store: ClusterObjects,
  front: { url: string; caPem: string },
  namespace: string,
  name: string,
  roleYaml: string,
): Promise<string> {
  await store.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  await store.apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } });
  const documents = parseAllDocuments(roleYaml)
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((doc): doc is KubeObject => Boolean(doc));
  const subject = { kind: 'ServiceAccount', name, namespace };
  const bindings = documents.some((doc) => BINDINGS.has(doc.kind))
    ? []
    : documents.flatMap((role): KubeObject[] => {
        if (role.kind !== 'Role' && role.kind !== 'ClusterRole') return [];
        const cluster = role.kind === 'ClusterRole';
        return [
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: cluster ? 'ClusterRoleBinding' : 'RoleBinding',
            metadata: {
              name: cluster
                ? `${namespace}-${name}-${role.metadata.name}`
                : `${name}-${role.metadata.name}`,
              ...(!cluster && { namespace: role.metadata.namespace ?? namespace }),
            },
            roleRef: {
              apiGroup: 'rbac.authorization.k8s.io',
              kind: role.kind,
              name: role.metadata.name,
            },
            subjects: [subject],
          },
        ];
      });
  for (const doc of [...documents, ...bindings]) {
    const clusterScoped = doc.kind === 'ClusterRole' || doc.kind === 'ClusterRoleBinding';
    if (!clusterScoped) doc.metadata.namespace ??= namespace;
    await store.apply(doc);
  }
  const request = await api<{ status: { token: string } }>(
    'POST',
    `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 3600 },
    },
  );
  return kubeconfigYaml(front.url, front.caPem, request.status.token, { user: name, namespace });
}
