/**
 * Reading ansible-playbook's text output (the `default` stdout callback, results as one-line
 * JSON) as it streams: which task runs, which failed and why, and the PLAY RECAP's counts.
 */

/** One host's line of the PLAY RECAP. */
export interface PlaybookRecap {
  host: string;
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
  skipped: number;
  rescued: number;
  ignored: number;
  /** The line as printed, whitespace squeezed. */
  line: string;
}

/** A task that failed on the host (`fatal: [host]: FAILED! => {…}`, or `UNREACHABLE!`). */
export interface TaskFailure {
  /** The task's name as its TASK line gave it (`role : name`); null when it failed before any task. */
  task: string | null;
  kind: 'FAILED' | 'UNREACHABLE' | 'ERROR';
  /** What the module said: `msg`, then `stderr` (or `stdout` when there is no stderr), as readable text. */
  message: string;
}

/** `TASK [corral_node : Install nftables] ****` → `corral_node : Install nftables`. */
export function taskNameOf(line: string): string | null {
  const m = /^TASK \[(.+)\] \**\s*$/.exec(line);
  return m ? m[1]!.trim() : null;
}

/** The module result's readable part: `msg`, then stderr (or stdout); the raw text when it is not JSON. */
export function resultMessageOf(json: string): string {
  let result: unknown;
  try {
    result = JSON.parse(json);
  } catch {
    return json.trim();
  }
  if (!result || typeof result !== 'object') return json.trim();
  const r = result as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' ? v.trim() : v === undefined || v === null ? '' : JSON.stringify(v));
  const parts = [text(r.msg), text(r.stderr) || text(r.stdout)].filter((p) => p.length > 0);
  // A loop's failure carries its items' results.
  if (parts.length === 0 && Array.isArray(r.results)) {
    for (const item of r.results) if (item && typeof item === 'object' && (item as Record<string, unknown>).failed) parts.push(resultMessageOf(JSON.stringify(item)));
  }
  return parts.length > 0 ? [...new Set(parts)].join('\n') : json.trim();
}

/**
 * A failure line: `fatal: [h]: FAILED! => {…}`, `fatal: [h]: UNREACHABLE! => {…}`, a loop's
 * `failed: [h] (item=…) => {…}`, or ansible's own `ERROR! …` (a playbook that does not parse).
 */
export function failureOf(line: string, task: string | null): TaskFailure | null {
  const fatal = /^fatal: \[[^\]]+\]: (FAILED|UNREACHABLE)! => (.*)$/.exec(line);
  if (fatal) return { task, kind: fatal[1] as 'FAILED' | 'UNREACHABLE', message: resultMessageOf(fatal[2]!) };
  const item = /^failed: \[[^\]]+\] \((item=.*?)\) => (.*)$/.exec(line);
  if (item) return { task, kind: 'FAILED', message: `${item[1]}: ${resultMessageOf(item[2]!)}` };
  const error = /^(?:ERROR!|\[ERROR\]:?)\s*(.*)$/.exec(line);
  if (error) return { task, kind: 'ERROR', message: error[1]!.trim() };
  return null;
}

/** `198.18.0.13 : ok=12 changed=0 unreachable=0 failed=0 skipped=2 rescued=0 ignored=0`. */
export function recapOf(line: string): PlaybookRecap | null {
  const m = /^(\S+)\s+:\s+((?:[a-z]+=\d+\s*)+)$/.exec(line.trim());
  if (!m) return null;
  const counts = new Map(m[2]!.trim().split(/\s+/).map((pair) => pair.split('=') as [string, string]));
  if (!counts.has('ok') || !counts.has('changed') || !counts.has('failed')) return null;
  const n = (key: string) => Number(counts.get(key) ?? 0);
  return {
    host: m[1]!,
    ok: n('ok'),
    changed: n('changed'),
    unreachable: n('unreachable'),
    failed: n('failed'),
    skipped: n('skipped'),
    rescued: n('rescued'),
    ignored: n('ignored'),
    line: line.trim().replace(/\s+/g, ' '),
  };
}

/**
 * A progress that keeps rising without knowing how many tasks there are: the n-th task of a
 * playbook lands between `from` and `to`, half-way after `halfAt` tasks.
 */
export function taskProgress(n: number, from: number, to: number, halfAt = 15): number {
  return Math.round(from + (to - from) * (n / (n + halfAt)));
}

/**
 * Consumes the output as it comes (chunks need not end on line ends) and keeps what Corral needs
 * of it: the current task, each task as it starts (`onTask`), the first failure, the recap and
 * the output's tail.
 */
export class PlaybookOutput {
  task: string | null = null;
  tasks = 0;
  failure: TaskFailure | null = null;
  recap: PlaybookRecap | null = null;
  private inRecap = false;
  private partial = '';
  private tailText = '';

  constructor(
    private readonly onTask: (name: string, index: number) => void = () => {},
    private readonly tailChars = 20_000,
  ) {}

  push(chunk: string): void {
    this.tailText = (this.tailText + chunk).slice(-this.tailChars);
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) this.line(line.replace(/\r$/, ''));
  }

  /** The last line, when the output did not end with a newline. */
  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  /** The last `tailChars` characters of the output. */
  get tail(): string {
    return this.tailText;
  }

  private line(line: string): void {
    const task = taskNameOf(line);
    if (task !== null) {
      this.task = task;
      this.tasks += 1;
      this.onTask(task, this.tasks);
      return;
    }
    if (line.startsWith('PLAY RECAP')) {
      this.inRecap = true;
      return;
    }
    if (this.inRecap) {
      const recap = recapOf(line);
      if (recap && !this.recap) this.recap = recap;
      return;
    }
    const failure = this.failure ? null : failureOf(line, this.task);
    // `...ignoring` follows a failure that the play chose to ignore; the next line decides.
    if (failure) this.failure = failure;
    else if (this.failure && /^\.\.\.ignoring\s*$/.test(line)) this.failure = null;
  }
}
