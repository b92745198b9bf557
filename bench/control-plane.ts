// What the real control plane under the benchmark costs: how long it takes to start and stop, and
// the resident memory of its processes (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, KWOK, Toxiproxy), read from /proc.
import { readFileSync } from 'node:fs';
import { type ControlPlane, startControlPlane } from '../test/control-plane/cluster.ts';

/** Resident memory in MiB: the sum over the processes, and each component's. */
export interface Memory {
  totalMiB: number;
  byComponent: Record<string, number>;
}

export interface ControlPlaneMemory {
  /** VmRSS now. */
  rss: Memory;
  /** VmHWM: each process's own peak so far; their sum bounds the peak of the whole from above. */
  peak: Memory;
}

const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;

/** A `kB` field of /proc/<pid>/status; 0 once the process is gone. */
function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function memory(pids: Record<string, number>, field: 'VmRSS' | 'VmHWM'): Memory {
  const byComponent = Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => [name, statusKiB(pid, field)]),
  );
  const total = Object.values(byComponent).reduce((sum, kib) => sum + kib, 0);
  return {
    totalMiB: mib(total),
    byComponent: Object.fromEntries(Object.entries(byComponent).map(([n, kib]) => [n, mib(kib)])),
  };
}

/** The control plane's resident memory now and each process's peak so far. */
export function controlPlaneMemory(cluster: Pick<ControlPlane, 'pids'>): ControlPlaneMemory {
  return { rss: memory(cluster.pids, 'VmRSS'), peak: memory(cluster.pids, 'VmHWM') };
}

export interface StartStop {
  /** The release the API server runs, e.g. 1.35.8. */
  kubernetesVersion: string;
  startMs: number;
  /** Resident memory right after the start, with no release installed. */
  idle: ControlPlaneMemory;
  stopMs: number;
}

/** Starts a bare control plane (one Node, as the worlds have), reads its memory, stops it. */
export async function startStop(): Promise<StartStop> {
  const started = performance.now();
  const cluster = await startControlPlane();
  const startMs = performance.now() - started;
  const idle = controlPlaneMemory(cluster);
  const stopping = performance.now();
  await cluster.stop();
  const { kubernetesVersion } = cluster;
  return { kubernetesVersion, startMs, idle, stopMs: performance.now() - stopping };
}
