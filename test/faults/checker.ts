/**
 * The fault matrix's judge. After the system is idle, every task is judged from what the
 * simulators themselves recorded (Creative Force's submissions and status updates, the AI
 * provider's paid starts, the webhook answers the test got as Creative Force), never from the
 * service's own account of itself:
 *
 * - lost: a webhook was accepted (202) but the task ended with fewer accepted submissions than
 *   the cycles it needed, and no failure report either;
 * - double submission: more accepted Submit Outputs than cycles needed, or any refused one;
 * - double-paid generation: more paid starts at the provider than the task's cycles needed;
 * - unreported failure: a task built to fail (an unreadable input) with no failure report;
 * - the largest number of gateway calls (token included) in any rolling 1-second window, as the
 *   service sent them, which must stay within Creative Force's limit of 20. The same count at the
 *   simulator is shown beside it, not judged: the simulator and the proxies time arrivals in the
 *   test's own process, whose event loop, busy with them, bunches arrivals when it is late.
 */

/** Creative Force's rate limit: token and gateway requests in any 1-second window. */
export const gatewayLimit = 20;

/** What the records say about one task. */
export interface TaskEvidence {
  taskProcessId: string;
  /** What the task is (`convert`, `photoshoot`, `unreadable`), for the report. */
  kind: string;
  /** `submitted`: each cycle must end in an accepted Submit Output; `failed`: it must be reported. */
  expect: 'submitted' | 'failed';
  /** Cycles the task needs: its first pass and each rework (0 for a task built to fail). */
  cycles: number;
  /** Paid starts its cycles need at the provider. */
  paidExpected: number;
  /** Webhooks answered 202. */
  accepted: number;
  /** Submit Output requests Creative Force accepted, and refused. */
  submissions: number;
  refused: number;
  /** Update Process Status calls Creative Force received, and the message of the first. */
  reports: number;
  reportMessage?: string;
  /** Paid starts the provider accepted for it. */
  paid: number;
}

export interface Evidence {
  tasks: TaskEvidence[];
  /**
   * The largest number of token and gateway calls in any 1-second window, as they arrived at
   * Creative Force (timed by the simulator), and as the service processes sent them (timed by
   * them, dropped ones included).
   */
  windows: { creativeForce: number; sent: number };
}

/** The matrix: the tasks of each kind of defect (one line each, naming the task and what was seen). */
export interface Verdict {
  tasks: number;
  lost: string[];
  doubleSubmissions: string[];
  doublePaid: string[];
  unreportedFailures: string[];
  /** The window as the service sent the calls: the judged one. */
  largestWindow: number;
  windows: Evidence['windows'];
  /** Not a defect, shown for reading: tasks that should have succeeded but were reported as failed. */
  reportedInstead: string[];
  /** Not a defect yet (issue 11, point 4), shown for reading: tasks reported more than once. */
  repeatedReports: string[];
}

function describe(task: TaskEvidence, what: string): string {
  return `${task.taskProcessId} (${task.kind}): ${what}`;
}

export function judge(evidence: Evidence): Verdict {
  const verdict: Verdict = {
    tasks: evidence.tasks.length,
    lost: [],
    doubleSubmissions: [],
    doublePaid: [],
    unreportedFailures: [],
    largestWindow: evidence.windows.sent,
    windows: evidence.windows,
    reportedInstead: [],
    repeatedReports: [],
  };
  for (const task of evidence.tasks) {
    const seen = `${task.accepted} accepted webhooks, ${task.submissions} submissions for ${task.cycles} cycles, ${task.reports} reports`;
    if (task.expect === 'submitted' && task.accepted > 0 && task.submissions < task.cycles && task.reports === 0) {
      verdict.lost.push(describe(task, seen));
    }
    if (task.submissions > task.cycles || task.refused > 0) {
      verdict.doubleSubmissions.push(describe(task, `${seen}, ${task.refused} refused`));
    }
    if (task.paid > task.paidExpected) {
      verdict.doublePaid.push(describe(task, `${task.paid} paid starts, ${task.paidExpected} expected`));
    }
    if (task.expect === 'failed' && task.accepted > 0 && task.reports === 0) {
      verdict.unreportedFailures.push(describe(task, seen));
    }
    if (task.expect === 'submitted' && task.reports > 0) {
      verdict.reportedInstead.push(describe(task, `${seen}: "${task.reportMessage ?? ''}"`));
    }
    if (task.reports > 1) verdict.repeatedReports.push(describe(task, seen));
  }
  return verdict;
}

/** What a fault test asserts is empty: every defect of the verdict, and the windows above the limit. */
export function defects(verdict: Verdict) {
  return {
    lost: verdict.lost,
    doubleSubmissions: verdict.doubleSubmissions,
    doublePaid: verdict.doublePaid,
    unreportedFailures: verdict.unreportedFailures,
    windowAboveLimit: verdict.largestWindow > gatewayLimit ? [`${verdict.largestWindow} calls in 1 s`] : [],
  };
}

/** No defect at all: what `defects` returns for a clean run. */
export const noDefects = { lost: [], doubleSubmissions: [], doublePaid: [], unreportedFailures: [], windowAboveLimit: [] };

/** The matrix as the soak prints it, each defect's tasks listed under its row. */
export function formatMatrix(verdict: Verdict, facts: Record<string, string | number> = {}): string {
  const rows: [string, string | number, string[]][] = [
    ['tasks', verdict.tasks, []],
    ['lost', verdict.lost.length, verdict.lost],
    ['double submissions', verdict.doubleSubmissions.length, verdict.doubleSubmissions],
    ['double-paid generations', verdict.doublePaid.length, verdict.doublePaid],
    ['unreported failures', verdict.unreportedFailures.length, verdict.unreportedFailures],
    [
      `largest 1-s window (limit ${gatewayLimit})`,
      `${verdict.largestWindow} as sent (${verdict.windows.creativeForce} at the simulator, timed in this process)`,
      [],
    ],
    ...Object.entries(facts).map(([name, value]): [string, string | number, string[]] => [name, value, []]),
    ['(info) reported instead of submitted', verdict.reportedInstead.length, verdict.reportedInstead],
    ['(info) reported more than once', verdict.repeatedReports.length, verdict.repeatedReports],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows
    .flatMap(([name, value, tasks]) => [`${name.padEnd(width)}  ${value}`, ...tasks.slice(0, 20).map((t) => `    ${t}`)])
    .join('\n');
}
