// The machine a benchmark ran on, for the record next to its results.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  helm: string;
  date: string;
  /** 1-minute load average when the benchmark started and ended: other work skews the figures. */
  loadAverage: { start: number; end?: number };
}

function osName(): string {
  const file = '/etc/os-release';
  const pretty = existsSync(file)
    ? /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync(file, 'utf8'))?.[1]
    : undefined;
  return `${pretty ?? process.platform}, kernel ${release()}`;
}

export function machine(node: string, helm: string): Machine {
  const run = (file: string, args: string[]) =>
    execFileSync(file, args, { encoding: 'utf8' }).trim();
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: osName(),
    node: run(node, ['--version']),
    helm: run(helm, ['version', '--template', '{{.Version}}']),
    date: new Date().toISOString(),
    loadAverage: { start: load() },
  };
}

/** The current 1-minute load average, rounded. */
export function load(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100;
}
