import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ROOT } from './paths.ts';

/** The defaults action.yml declares, as the runner passes them to the action. */
export function actionDefaults(): Record<string, string> {
  const action = parse(readFileSync(`${ROOT}action.yml`, 'utf8')) as {
    inputs: Record<string, { default?: string }>;
  };
  return Object.fromEntries(
    Object.entries(action.inputs).map(([name, input]) => [name, input.default ?? '']),
  );
}
