// OpenAPI v3 documents. Helm and kubectl only look for a `patch` operation per kind carrying
// `x-kubernetes-group-version-kind` and a `fieldValidation` parameter: that tells them the server
// validates fields itself, so they skip client-side schema validation (which needs OpenAPI v2).
import { createHash } from 'node:crypto';
import { apiVersionOf, type ResourceRegistry, type ResourceType } from './resources.ts';

/** `io.k8s.api.apps.v1.Deployment`, or reverse-domain `io.milvus.v1beta1.Milvus` for custom kinds. */
function schemaName(rt: ResourceType): string {
  if (rt.group === '') return `io.k8s.api.core.${rt.version}.${rt.kind}`;
  if (rt.group === 'apiextensions.k8s.io')
    return `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.${rt.version}.${rt.kind}`;
  if (rt.group.endsWith('.k8s.io') || !rt.group.includes('.')) {
    return `io.k8s.api.${rt.group.split('.')[0]}.${rt.version}.${rt.kind}`;
  }
  return `${rt.group.split('.').reverse().join('.')}.${rt.version}.${rt.kind}`;
}

const param = (name: string, description: string) => ({
  name,
  in: 'query',
  description,
  schema: { type: 'string', uniqueItems: true },
});

const WRITE_PARAMS = [
  param('dryRun', 'When present, indicates that modifications should not be persisted.'),
  param('fieldManager', 'A name associated with the actor or entity that is making these changes.'),
  param(
    'fieldValidation',
    'How the server handles unknown or duplicate fields: Ignore, Warn or Strict.',
  ),
];

const PATCH_BODY_TYPES = [
  'application/apply-patch+yaml',
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
];

function operation(
  rt: ResourceType,
  action: string,
  verb: string,
  extra: Record<string, unknown> = {},
) {
  const ref = { $ref: `#/components/schemas/${schemaName(rt)}` };
  return {
    tags: [rt.group ? `${rt.group.split('.')[0]}_${rt.version}` : `core_${rt.version}`],
    operationId: `${verb}${rt.namespaced ? 'Namespaced' : ''}${rt.kind}`,
    responses: { '200': { description: 'OK', content: { 'application/json': { schema: ref } } } },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': { group: rt.group, version: rt.version, kind: rt.kind },
    ...extra,
  };
}

function paths(rt: ResourceType): Record<string, unknown> {
  const prefix = rt.group ? `/apis/${rt.group}/${rt.version}` : `/api/${rt.version}`;
  const collection = rt.namespaced
    ? `${prefix}/namespaces/{namespace}/${rt.plural}`
    : `${prefix}/${rt.plural}`;
  const ref = { $ref: `#/components/schemas/${schemaName(rt)}` };
  const body = { content: { 'application/json': { schema: ref } }, required: true };
  const item = {
    get: operation(rt, 'get', 'read'),
    put: operation(rt, 'put', 'replace', { parameters: WRITE_PARAMS, requestBody: body }),
    patch: operation(rt, 'patch', 'patch', {
      parameters: [...WRITE_PARAMS, param('force', 'Force is going to "force" Apply requests.')],
      requestBody: {
        content: Object.fromEntries(
          PATCH_BODY_TYPES.map((t) => [t, { schema: { type: 'object' } }]),
        ),
        required: true,
      },
    }),
    delete: operation(rt, 'delete', 'delete'),
  };
  const out: Record<string, unknown> = {
    [collection]: {
      get: operation(rt, 'list', 'list'),
      post: operation(rt, 'post', 'create', { parameters: WRITE_PARAMS, requestBody: body }),
      delete: operation(rt, 'deletecollection', 'deleteCollection'),
    },
    [`${collection}/{name}`]: item,
  };
  if (rt.statusSubresource) {
    out[`${collection}/{name}/status`] = {
      get: operation(rt, 'get', 'read', { operationId: `read${rt.kind}Status` }),
      put: operation(rt, 'put', 'replace', {
        operationId: `replace${rt.kind}Status`,
        parameters: WRITE_PARAMS,
      }),
      patch: operation(rt, 'patch', 'patch', {
        operationId: `patch${rt.kind}Status`,
        parameters: WRITE_PARAMS,
      }),
    };
  }
  return out;
}

function schema(rt: ResourceType): Record<string, unknown> {
  const properties: Record<string, unknown> = {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
  };
  for (const field of rt.fields ?? ['spec', 'status']) properties[field] ??= { type: 'object' };
  return {
    type: 'object',
    description: `${rt.kind} (${apiVersionOf(rt)})`,
    properties,
    'x-kubernetes-group-version-kind': [{ group: rt.group, version: rt.version, kind: rt.kind }],
    ...(rt.fields ? {} : { 'x-kubernetes-preserve-unknown-fields': true }),
  };
}

/** The document of one group version (`api/v1`, `apis/apps/v1`), or undefined if not served. */
export function groupVersionDocument(
  registry: ResourceRegistry,
  path: string,
  gitVersion: string,
): Record<string, unknown> | undefined {
  const types = registry
    .all()
    .filter((t) => (t.group ? `apis/${t.group}/${t.version}` : `api/${t.version}`) === path);
  if (types.length === 0) return undefined;
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: gitVersion },
    paths: Object.assign({}, ...types.map(paths)),
    components: { schemas: Object.fromEntries(types.map((t) => [schemaName(t), schema(t)])) },
  };
}

/** `/openapi/v3`: where each group version's document lives, with a hash that changes with it. */
export function openapiRoot(
  registry: ResourceRegistry,
  gitVersion: string,
): Record<string, unknown> {
  const entries: [string, unknown][] = [];
  for (const { group, versions } of registry.groupVersions()) {
    for (const version of versions) {
      const path = group ? `apis/${group}/${version}` : `api/${version}`;
      const doc = groupVersionDocument(registry, path, gitVersion);
      const hash = createHash('sha512')
        .update(JSON.stringify(doc))
        .digest('hex')
        .slice(0, 64)
        .toUpperCase();
      entries.push([path, { serverRelativeURL: `/openapi/v3/${path}?hash=${hash}` }]);
    }
  }
  return { paths: Object.fromEntries(entries) };
}
