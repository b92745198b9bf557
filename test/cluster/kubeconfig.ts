// The kubeconfig clients use to reach the test cluster: the CA to verify it and a bearer token.
import { stringify } from 'yaml';

export interface KubeconfigNames {
  context: string;
  cluster: string;
  user: string;
  namespace: string;
}

export function renderKubeconfig(
  server: string,
  caPem: string,
  token: string,
  names: KubeconfigNames,
): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: names.cluster,
        cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
      },
    ],
    users: [{ name: names.user, user: { token } }],
    contexts: [
      {
        name: names.context,
        context: { cluster: names.cluster, user: names.user, namespace: names.namespace },
      },
    ],
    'current-context': names.context,
    preferences: {},
  });
}
