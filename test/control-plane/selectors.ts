// Label selectors (`app=web,tier in (a,b),!legacy`) as the API server reads them: parsed for the
// KWOK Stages, which take them as JQ, and matched for the pod faults.
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
    throw new Error(`invalid label selector "${text}"`);
  });
}

/** Whether labels satisfy every requirement. */
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
