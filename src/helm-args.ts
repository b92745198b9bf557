// The exact Helm command lines the action runs or shows, built from plain data: pure, so the
// planner can lay out every hop without running anything.

import { refusal } from './errors.ts';

export interface UpgradeSpec {
  release: string;
  namespace: string;
  /** `zilliztech/milvus` or `oci://registry.example.com/charts/milvus`. */
  chartRef: string;
  chartVersion: string;
  /** The chart-ca-file input: the CA bundle of the chart's registry or repository. */
  caFile?: string | undefined;
  /** `-f` files, in order. */
  valuesFiles?: readonly string[];
  /** Every `--set`, in order: the image tag, the hop's own, then the message-queue pins. */
  sets: readonly (readonly [string, string])[];
  helmMajor: 3 | 4;
  /** A Go duration: `20m`, `1h30m`. */
  timeout: string;
  /** Render against the server (`--dry-run=server`) and change nothing. */
  dryRun?: boolean;
}

const SET_KEY = /^(?:[A-Za-z0-9_-]|\\\.)+(?:\[\d+\])?(?:\.(?:[A-Za-z0-9_-]|\\\.)+(?:\[\d+\])?)*$/;

/** The flags the action must never pass to `helm upgrade`. */
const FORBIDDEN_UPGRADE_FLAGS = ['--force', '--atomic', '--rollback-on-failure', '--install', '-i'];

/** Refuses arguments that are not a `helm upgrade` from `upgradeArgs`, or carry a forbidden flag. */
export function checkUpgradeArgs(args: readonly string[]): void {
  if (args[0] !== 'upgrade') throw new Error('Helm.upgrade needs arguments from upgradeArgs()');
  const forbidden = args.filter((arg) =>
    FORBIDDEN_UPGRADE_FLAGS.some((flag) => arg === flag || arg.startsWith(`${flag}=`)),
  );
  if (forbidden.length > 0) {
    throw new Error(`Helm refuses ${forbidden.join(', ')}: the action never uses them`);
  }
}

/** Escapes a `--set` value so commas and backslashes stay literal. */
export function escapeSetValue(value: string): string {
  return value.replace(/[\\,]/g, (c) => `\\${c}`);
}

/**
 * The exact `helm upgrade` arguments for one hop. Never `--force`, `--atomic`,
 * `--rollback-on-failure` or `--install`. A dry run renders on the server, waits for nothing and
 * prints JSON (parsed into a summary by `Helm.upgrade`).
 */
export function upgradeArgs(spec: UpgradeSpec): string[] {
  const args = [
    'upgrade',
    spec.release,
    spec.chartRef,
    '--namespace',
    spec.namespace,
    '--version',
    spec.chartVersion,
    '--reset-then-reuse-values',
  ];
  if (spec.caFile) args.push('--ca-file', spec.caFile);
  for (const file of spec.valuesFiles ?? []) args.push('-f', file);
  for (const [key, value] of spec.sets) {
    if (!SET_KEY.test(key)) {
      throw refusal(
        `"${key}" is not a values key the action can --set.`,
        'Use dotted keys of letters, digits, "_" and "-" (for example image.all.tag).',
      );
    }
    args.push('--set', `${key}=${escapeSetValue(value)}`);
  }
  if (spec.dryRun) {
    args.push('--dry-run=server', '--output', 'json');
  } else {
    args.push(spec.helmMajor === 4 ? '--wait=watcher' : '--wait');
  }
  args.push('--timeout', spec.timeout);
  return args;
}

/** A Go (RE2) regular expression matching exactly `name`, for `helm list --filter`. */
export function exactFilter(name: string): string {
  return `^${name.replace(/[\\.+*?()|[\]{}^$]/g, (c) => `\\${c}`)}$`;
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command a user would run to return to `revision` (shown, never run by the action). */
export function rollbackCommand(release: string, namespace: string, revision: number): string {
  return ['helm', 'rollback', release, String(revision), '--namespace', namespace]
    .map(shellQuote)
    .join(' ');
}
