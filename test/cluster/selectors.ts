// Label and field selectors, parsed from query strings and from LabelSelector objects.
import { badRequest } from './errors.ts';
import type { ResourceType } from './resources.ts';
import type { KubeObject, LabelSelector } from './types.ts';

export interface Requirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: string[];
}

export type Selector = Requirement[];

/** Splits on commas that are not inside `(...)`. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

const KEY = '[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?';
const VALUE = '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?';
const EQUALITY = new RegExp(String.raw`^(${KEY})\s*(==|!=|=)\s*(${VALUE})$`);
const SET = new RegExp(String.raw`^(${KEY})\s+(in|notin)\s*\(([^)]*)\)$`);
const EXISTS = new RegExp(String.raw`^(!?)\s*(${KEY})$`);

/** Parses a `labelSelector` query value such as `app=web,tier in (a,b),!legacy`. */
export function parseLabelSelector(text: string | null | undefined): Selector {
  if (!text) return [];
  return splitTopLevel(text).map((part) => {
    const eq = EQUALITY.exec(part);
    if (eq) {
      const value = eq[4] ?? '';
      return { key: eq[1] ?? '', operator: eq[3] === '!=' ? 'NotIn' : 'In', values: [value] };
    }
    const set = SET.exec(part);
    if (set) {
      const values = (set[4] ?? '')
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '');
      return { key: set[1] ?? '', operator: set[3] === 'notin' ? 'NotIn' : 'In', values };
    }
    const exists = EXISTS.exec(part);
    if (exists) {
      return { key: exists[2] ?? '', operator: exists[1] ? 'DoesNotExist' : 'Exists', values: [] };
    }
    throw badRequest(`unable to parse requirement: invalid label selector "${text}"`);
  });
}

/** Converts a LabelSelector object (matchLabels, matchExpressions) to requirements. */
export function fromLabelSelector(selector: LabelSelector | undefined): Selector {
  if (!selector) return [];
  const requirements: Selector = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => ({
    key,
    operator: 'In' as const,
    values: [value],
  }));
  for (const expr of selector.matchExpressions ?? []) {
    const operator = expr.operator as Requirement['operator'];
    requirements.push({ key: expr.key, operator, values: expr.values ?? [] });
  }
  return requirements;
}

/** Renders a LabelSelector object as a query string value, as kubectl and Helm do. */
export function formatLabelSelector(selector: LabelSelector | undefined): string {
  return fromLabelSelector(selector)
    .map((r) => {
      if (r.operator === 'Exists') return r.key;
      if (r.operator === 'DoesNotExist') return `!${r.key}`;
      if (r.values.length === 1 && r.operator === 'In') return `${r.key}=${r.values[0]}`;
      return `${r.key} ${r.operator === 'In' ? 'in' : 'notin'} (${r.values.join(',')})`;
    })
    .join(',');
}

export function matchesLabels(
  labels: Record<string, string> | undefined,
  selector: Selector,
): boolean {
  return selector.every((r) => {
    const value = labels?.[r.key];
    switch (r.operator) {
      case 'In':
        return value !== undefined && r.values.includes(value);
      case 'NotIn':
        return value === undefined || !r.values.includes(value);
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
    }
    return false;
  });
}

export interface FieldRequirement {
  field: string;
  value: string;
  negate: boolean;
}

// Field selectors a real API server supports beyond metadata.name and metadata.namespace.
const FIELD_LABELS: Record<string, string[]> = {
  '/pods': [
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'spec.hostNetwork',
    'status.phase',
    'status.podIP',
    'status.nominatedNodeName',
  ],
  '/secrets': ['type'],
  '/namespaces': ['status.phase'],
  '/nodes': ['spec.unschedulable'],
  '/persistentvolumeclaims': ['spec.volumeName'],
  '/events': [
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'source',
    'type',
  ],
  'apps/replicasets': ['status.replicas'],
  'batch/jobs': ['status.successful'],
};

export function parseFieldSelector(
  rt: ResourceType,
  text: string | null | undefined,
): FieldRequirement[] {
  if (!text) return [];
  const allowed = [
    'metadata.name',
    'metadata.namespace',
    ...(FIELD_LABELS[`${rt.group}/${rt.plural}`] ?? []),
  ];
  return splitTopLevel(text).map((part) => {
    const match = /^([A-Za-z.]+)\s*(==|!=|=)\s*(.*)$/.exec(part);
    if (!match) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    const field = match[1] ?? '';
    if (!allowed.includes(field)) {
      throw badRequest(`field label not supported: ${field}`);
    }
    return { field, value: match[3] ?? '', negate: match[2] === '!=' };
  });
}

function fieldValue(obj: KubeObject, field: string): string {
  if (field === 'status.successful') {
    return String((obj.status as { succeeded?: number } | undefined)?.succeeded ?? 0);
  }
  let current: unknown = obj;
  for (const part of field.split('.')) {
    current = (current as Record<string, unknown> | undefined)?.[part];
  }
  if (current === undefined || current === null) return '';
  return String(current);
}

export function matchesFields(obj: KubeObject, requirements: FieldRequirement[]): boolean {
  return requirements.every((r) => (fieldValue(obj, r.field) === r.value) !== r.negate);
}
