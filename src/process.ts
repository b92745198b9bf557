// Runs the external programs the action drives (Helm), with argument arrays and never a shell,
// and stops them cleanly when the job is cancelled: an interrupted `helm upgrade` records its
// revision as failed instead of leaving it pending, which only a running Helm can do.
import { type ChildProcess, spawn } from 'node:child_process';

export interface Completed {
  /** The exit code; -1 when the program ended by a signal. */
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  /** Called with each complete line of stdout and stderr as it arrives. */
  onLine?: (line: string) => void;
  /** The program changes the cluster: it is never started once the run is being cancelled. */
  changes?: boolean;
  /** Written to the program's stdin (a password, so it never shows in a process list). */
  input?: string;
}

/** The job was cancelled (a signal to the action); nothing that changes the cluster starts now. */
export class Cancelled extends Error {
  readonly signal: NodeJS.Signals;
  constructor(signal: NodeJS.Signals) {
    super(`the run was cancelled (${signal})`);
    this.name = 'Cancelled';
    this.signal = signal;
  }
}

const running = new Set<ChildProcess>();
let cancelledBy: NodeJS.Signals | undefined;

/** The signal that cancelled the run, if one did. */
export function cancellation(): NodeJS.Signals | undefined {
  return cancelledBy;
}

/** Runs `binary` with `args` and resolves with its exit code and output (never rejects on exit). */
export function runProgram(
  binary: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<Completed> {
  if (options.changes && cancelledBy) return Promise.reject(new Cancelled(cancelledBy));
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [...args], {
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    running.add(child);
    // A program that does not read its input may close it first: that is not a failure.
    child.stdin.on('error', () => undefined).end(options.input);
    const out: string[] = [];
    const err: string[] = [];
    const collect = (sink: string[]) => {
      let partial = '';
      return (chunk: string) => {
        sink.push(chunk);
        if (!options.onLine) return;
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) options.onLine(line.replace(/\r$/, ''));
      };
    };
    child.stdout.setEncoding('utf8').on('data', collect(out));
    child.stderr.setEncoding('utf8').on('data', collect(err));
    child.on('error', (error) => {
      running.delete(child);
      reject(error);
    });
    child.on('close', (code) => {
      running.delete(child);
      const stdout = out.join('');
      const stderr = err.join('');
      if (options.onLine) {
        for (const text of [stdout, stderr]) {
          const last = text.slice(text.lastIndexOf('\n') + 1);
          if (last) options.onLine(last);
        }
      }
      resolve({ exitCode: code ?? -1, stdout, stderr });
    });
  });
}

/**
 * Marks the run cancelled, passes SIGINT to every running program (Helm then ends its operation
 * and records it) and waits up to `graceMs` for them to exit.
 */
export async function interruptPrograms(signal: NodeJS.Signals, graceMs: number): Promise<void> {
  cancelledBy ??= signal;
  const exits = [...running].map(
    (child) => new Promise<void>((resolve) => child.once('close', () => resolve())),
  );
  for (const child of running) child.kill('SIGINT');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(exits),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    }),
  ]);
  clearTimeout(timer);
}

/**
 * Until disposed, the first SIGINT or SIGTERM (how a runner cancels a job) interrupts the running
 * programs, waits up to `graceMs` for them, and then rejects `cancelled`. Later signals are
 * ignored, so the action can still report before the runner's final kill.
 */
export function watchSignals(graceMs: number): { cancelled: Promise<never>; dispose(): void } {
  let reject: (error: Cancelled) => void = () => undefined;
  const cancelled = new Promise<never>((_, no) => {
    reject = no;
  });
  cancelled.catch(() => undefined);
  const onSignal = (signal: NodeJS.Signals) => {
    if (cancelledBy) return;
    void interruptPrograms(signal, graceMs).then(() => reject(new Cancelled(signal)));
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  for (const signal of signals) process.on(signal, onSignal);
  return {
    cancelled,
    dispose: () => {
      for (const signal of signals) process.off(signal, onSignal);
    },
  };
}
