// The validation rules of a real API server that a chart upgrade can run into: name and label
// syntax, selectors matching templates, and fields that are immutable once created.
import type { StatusCause } from './errors.ts';
import type { ResourceType } from './resources.ts';
import { fromLabelSelector, matchesLabels } from './selectors.ts';
import type { KubeObject, LabelSelector, PodSpec, PodTemplate } from './types.ts';
import { deepEqual, isObject, type JsonObject } from './util.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const LABEL_NAMED = new Set(['Namespace', 'Service']);
const PATH_SEGMENT_NAMED = new Set(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']);

function nameCauses(rt: ResourceType, name: string | undefined): StatusCause[] {
  if (!name)
    return [
      {
        reason: 'FieldValueRequired',
        field: 'metadata.name',
        message: 'Required value: name or generateName is required',
      },
    ];
  if (PATH_SEGMENT_NAMED.has(rt.kind)) {
    return name === '.' || name === '..' || /[/%]/.test(name)
      ? [
          {
            field: 'metadata.name',
            message: `Invalid value: "${name}": may not contain '/' or '%'`,
          },
        ]
      : [];
  }
  if (rt.custom || rt.kind === 'Node' || rt.kind === 'Event')
    return name.length > 253
      ? [
          {
            field: 'metadata.name',
            message: `Invalid value: "${name}": must be no more than 253 characters`,
          },
        ]
      : [];
  if (LABEL_NAMED.has(rt.kind)) {
    return name.length <= 63 && DNS_LABEL.test(name)
      ? []
      : [
          {
            field: 'metadata.name',
            message: `Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`,
          },
        ];
  }
  return name.length <= 253 && DNS_SUBDOMAIN.test(name)
    ? []
    : [
        {
          field: 'metadata.name',
          message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
        },
      ];
}

function labelCauses(labels: unknown, field: string): StatusCause[] {
  if (!isObject(labels)) return [];
  const causes: StatusCause[] = [];
  for (const [key, value] of Object.entries(labels)) {
    const slash = key.lastIndexOf('/');
    const prefix = slash >= 0 ? key.slice(0, slash) : '';
    const name = key.slice(slash + 1);
    if (
      (slash >= 0 && (!DNS_SUBDOMAIN.test(prefix) || prefix.length > 253)) ||
      name.length > 63 ||
      !QUALIFIED_NAME.test(name)
    ) {
      causes.push({
        field,
        message: `Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.'`,
      });
    }
    if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) {
      causes.push({
        field,
        message: `Invalid value: "${String(value)}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character; must be no more than 63 characters`,
      });
    }
  }
  return causes;
}

function podSpecCauses(spec: PodSpec | undefined, field: string, isPod: boolean): StatusCause[] {
  if (!isObject(spec)) return [{ reason: 'FieldValueRequired', field, message: 'Required value' }];
  const causes: StatusCause[] = [];
  if (!Array.isArray(spec.containers) || spec.containers.length === 0) {
    causes.push({
      reason: 'FieldValueRequired',
      field: `${field}.containers`,
      message: 'Required value',
    });
  }
  const seen = new Set<string>();
  for (const [listName, list] of [
    ['containers', spec.containers],
    ['initContainers', spec.initContainers],
  ] as const) {
    (list ?? []).forEach((c, i) => {
      const at = `${field}.${listName}[${i}]`;
      if (!c.name || !DNS_LABEL.test(c.name) || c.name.length > 63) {
        causes.push({
          field: `${at}.name`,
          message: `Invalid value: "${c.name ?? ''}": a lowercase RFC 1123 label is required`,
        });
      } else if (seen.has(c.name)) {
        causes.push({
          reason: 'FieldValueDuplicate',
          field: `${at}.name`,
          message: `Duplicate value: "${c.name}"`,
        });
      }
      seen.add(c.name);
      if (isPod && !c.image)
        causes.push({
          reason: 'FieldValueRequired',
          field: `${at}.image`,
          message: 'Required value',
        });
    });
  }
  return causes;
}

function templateCauses(
  rt: ResourceType,
  spec: JsonObject,
  allowedRestart: string[],
): StatusCause[] {
  const template = spec.template as PodTemplate | undefined;
  const selector = spec.selector as LabelSelector | undefined;
  const causes = podSpecCauses(template?.spec, 'spec.template.spec', false);
  causes.push(...labelCauses(template?.metadata?.labels, 'spec.template.metadata.labels'));
  const restart = template?.spec?.restartPolicy;
  if (restart && !allowedRestart.includes(restart)) {
    causes.push({
      reason: 'FieldValueNotSupported',
      field: 'spec.template.spec.restartPolicy',
      message: `Unsupported value: "${restart}": supported values: ${allowedRestart.map((r) => `"${r}"`).join(', ')}`,
    });
  }
  if (rt.group === 'apps') {
    const requirements = fromLabelSelector(selector);
    if (requirements.length === 0) {
      causes.push({
        reason: 'FieldValueRequired',
        field: 'spec.selector',
        message: 'Required value',
      });
    } else if (!matchesLabels(template?.metadata?.labels, requirements)) {
      causes.push({
        field: 'spec.template.metadata.labels',
        message: `Invalid value: ${JSON.stringify(template?.metadata?.labels ?? {})}: \`selector\` does not match template \`labels\``,
      });
    }
  }
  return causes;
}

const MAX_DATA_BYTES = 1024 * 1024;
const MAX_ANNOTATION_BYTES = 256 * 1024;

function tooLong(field: string, limit: number): StatusCause {
  return {
    reason: 'FieldValueTooLong',
    field,
    message: `Too long: must have at most ${limit} bytes`,
  };
}

/** Bytes held in `data` and `binaryData` (base64 values counted decoded), as etcd limits them. */
function dataBytes(object: KubeObject, base64Data: boolean): number {
  let total = 0;
  for (const [field, encoded] of [
    ['data', base64Data],
    ['binaryData', true],
  ] as const) {
    const values = isObject(object[field]) ? Object.values(object[field]) : [];
    for (const value of values) {
      const text = String(value);
      total += encoded ? Buffer.from(text, 'base64').length : Buffer.byteLength(text);
    }
  }
  return total;
}

function specCauses(rt: ResourceType, object: KubeObject): StatusCause[] {
  const spec = isObject(object.spec) ? object.spec : {};
  switch (rt.kind) {
    case 'Secret':
      return dataBytes(object, true) > MAX_DATA_BYTES ? [tooLong('data', MAX_DATA_BYTES)] : [];
    case 'ConfigMap':
      return dataBytes(object, false) > MAX_DATA_BYTES ? [tooLong('[]', MAX_DATA_BYTES)] : [];
    case 'Pod':
      return podSpecCauses(spec as PodSpec, 'spec', true);
    case 'Deployment': {
      const causes = templateCauses(rt, spec, ['Always']);
      const strategy = isObject(spec.strategy) ? spec.strategy : {};
      if (strategy.type === 'Recreate' && strategy.rollingUpdate !== undefined) {
        causes.push({
          reason: 'FieldValueForbidden',
          field: 'spec.strategy.rollingUpdate',
          message: "Forbidden: may not be specified when strategy `type` is 'Recreate'",
        });
      }
      const rolling = isObject(strategy.rollingUpdate) ? strategy.rollingUpdate : undefined;
      if (rolling && isZero(rolling.maxSurge) && isZero(rolling.maxUnavailable)) {
        causes.push({
          field: 'spec.strategy.rollingUpdate.maxUnavailable',
          message: 'Invalid value: 0: may not be 0 when `maxSurge` is 0',
        });
      }
      return causes;
    }
    case 'StatefulSet':
    case 'ReplicaSet':
    case 'DaemonSet':
      return templateCauses(rt, spec, ['Always']);
    case 'Job':
      return templateCauses(rt, spec, ['OnFailure', 'Never']);
    case 'Service': {
      const causes: StatusCause[] = [];
      const ports = Array.isArray(spec.ports) ? (spec.ports as JsonObject[]) : [];
      if (spec.type === 'ExternalName') {
        if (!spec.externalName)
          causes.push({
            reason: 'FieldValueRequired',
            field: 'spec.externalName',
            message: 'Required value',
          });
      } else if (ports.length === 0 && spec.clusterIP !== 'None') {
        causes.push({
          reason: 'FieldValueRequired',
          field: 'spec.ports',
          message: 'Required value',
        });
      }
      const names = new Set<unknown>();
      ports.forEach((port, i) => {
        if (ports.length > 1 && !port.name) {
          causes.push({
            reason: 'FieldValueRequired',
            field: `spec.ports[${i}].name`,
            message: 'Required value',
          });
        }
        if (port.name && names.has(port.name)) {
          causes.push({
            reason: 'FieldValueDuplicate',
            field: `spec.ports[${i}].name`,
            message: `Duplicate value: "${port.name}"`,
          });
        }
        names.add(port.name);
        const number = port.port;
        if (typeof number !== 'number' || number < 1 || number > 65535) {
          causes.push({
            field: `spec.ports[${i}].port`,
            message: `Invalid value: ${JSON.stringify(number)}: must be between 1 and 65535, inclusive`,
          });
        }
      });
      return causes;
    }
    default:
      return [];
  }
}

function isZero(value: unknown): boolean {
  return value === 0 || value === '0' || value === '0%';
}

const STATEFULSET_MUTABLE = new Set([
  'replicas',
  'ordinals',
  'template',
  'updateStrategy',
  'revisionHistoryLimit',
  'persistentVolumeClaimRetentionPolicy',
  'minReadySeconds',
]);

function immutable(field: string, value: unknown): StatusCause {
  return { field, message: `Invalid value: ${JSON.stringify(value)}: field is immutable` };
}

function updateCauses(rt: ResourceType, object: KubeObject, old: KubeObject): StatusCause[] {
  const spec = isObject(object.spec) ? object.spec : {};
  const oldSpec = isObject(old.spec) ? old.spec : {};
  const causes: StatusCause[] = [];
  switch (rt.kind) {
    case 'Deployment':
    case 'ReplicaSet':
    case 'DaemonSet':
      if (!deepEqual(spec.selector, oldSpec.selector))
        causes.push(immutable('spec.selector', spec.selector));
      break;
    case 'StatefulSet': {
      const changed = [...new Set([...Object.keys(spec), ...Object.keys(oldSpec)])].filter(
        (k) => !STATEFULSET_MUTABLE.has(k) && !deepEqual(spec[k], oldSpec[k]),
      );
      if (changed.length) {
        causes.push({
          reason: 'FieldValueForbidden',
          field: 'spec',
          message:
            "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        });
      }
      break;
    }
    case 'Job':
      for (const field of ['selector', 'template', 'completions', 'completionMode']) {
        if (!deepEqual(spec[field], oldSpec[field]))
          causes.push(immutable(`spec.${field}`, spec[field]));
      }
      break;
    case 'Service':
      if (oldSpec.clusterIP && spec.clusterIP !== oldSpec.clusterIP)
        causes.push(immutable('spec.clusterIP', spec.clusterIP));
      break;
    case 'PersistentVolumeClaim': {
      const strip = (s: JsonObject) => ({
        ...s,
        resources: undefined,
        volumeName: undefined,
        volumeAttributesClassName: undefined,
      });
      if (
        !deepEqual(strip(spec), strip(oldSpec)) ||
        (oldSpec.volumeName && spec.volumeName !== oldSpec.volumeName)
      ) {
        causes.push({
          reason: 'FieldValueForbidden',
          field: 'spec',
          message:
            'Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
        });
      }
      break;
    }
    case 'ConfigMap':
    case 'Secret':
      if (old.immutable === true) {
        for (const field of ['data', 'binaryData', 'immutable']) {
          if (!deepEqual(object[field], old[field])) {
            causes.push({
              reason: 'FieldValueForbidden',
              field,
              message: 'Forbidden: field is immutable when `immutable` is set',
            });
          }
        }
      }
      if (rt.kind === 'Secret' && object.type !== old.type)
        causes.push(immutable('type', object.type));
      break;
    case 'RoleBinding':
    case 'ClusterRoleBinding':
      if (!deepEqual(object.roleRef, old.roleRef)) {
        causes.push({
          field: 'roleRef',
          message: `Invalid value: ${JSON.stringify(object.roleRef)}: cannot change roleRef`,
        });
      }
      break;
  }
  return causes;
}

/** Everything a real server would reject `object` for; `old` is the stored object on updates. */
export function validate(rt: ResourceType, object: KubeObject, old?: KubeObject): StatusCause[] {
  const annotations = Object.entries(object.metadata.annotations ?? {});
  const annotationBytes = annotations.reduce((n, [k, v]) => n + k.length + String(v).length, 0);
  return [
    ...nameCauses(rt, object.metadata.name),
    ...(annotationBytes > MAX_ANNOTATION_BYTES
      ? [tooLong('metadata.annotations', MAX_ANNOTATION_BYTES)]
      : []),
    ...labelCauses(object.metadata.labels, 'metadata.labels'),
    ...specCauses(rt, object),
    ...(old ? updateCauses(rt, object, old) : []),
  ];
}

/** Top-level fields the kind does not have, which `fieldValidation=Strict` rejects. */
export function unknownFields(rt: ResourceType, object: KubeObject): string[] {
  if (!rt.fields) return [];
  return Object.keys(object).filter((key) => !rt.fields?.includes(key));
}
