/** The checker names each kind of defect from the records, and nothing on a clean run. */
import { describe, expect, it } from 'vitest';
import { defects, formatMatrix, judge, noDefects, type TaskEvidence } from './checker.ts';

const done: TaskEvidence = {
  taskProcessId: 't',
  kind: 'convert',
  expect: 'submitted',
  cycles: 1,
  paidExpected: 0,
  accepted: 1,
  submissions: 1,
  refused: 0,
  reports: 0,
  paid: 0,
};
const failed: TaskEvidence = { ...done, kind: 'unreadable', expect: 'failed', cycles: 0, submissions: 0, reports: 1 };

function verdictOf(task: Partial<TaskEvidence>, window = 10) {
  return judge({ tasks: [{ ...done, ...task }], windows: { creativeForce: window + 1, sent: window } });
}

describe('the fault checker', () => {
  it('finds nothing in a clean run: cycles submitted, failures reported, paid starts as needed', () => {
    const verdict = judge({
      tasks: [done, failed, { ...done, kind: 'photoshoot', cycles: 2, submissions: 2, accepted: 2, paid: 2, paidExpected: 2 }],
      windows: { creativeForce: 20, sent: 20 },
    });
    expect(defects(verdict)).toEqual(noDefects);
    expect(verdict.tasks).toBe(3);
  });

  it('calls an accepted webhook that ended neither submitted nor reported lost', () => {
    expect(verdictOf({ submissions: 0 }).lost).toEqual([
      't (convert): 1 accepted webhooks, 0 submissions for 1 cycles, 0 reports',
    ]);
    // A rework that never came is lost too.
    expect(verdictOf({ cycles: 2, accepted: 2 }).lost).toHaveLength(1);
    // Reported instead: not lost, but shown.
    const reported = verdictOf({ submissions: 0, reports: 1, reportMessage: 'CYCLE_ABANDONED' });
    expect(reported.lost).toEqual([]);
    expect(reported.reportedInstead).toEqual([
      't (convert): 1 accepted webhooks, 0 submissions for 1 cycles, 1 reports: "CYCLE_ABANDONED"',
    ]);
    // Never accepted: nothing to lose.
    expect(verdictOf({ submissions: 0, accepted: 0 }).lost).toEqual([]);
  });

  it('calls more submissions than cycles, or a refused one, a double submission', () => {
    expect(verdictOf({ submissions: 2 }).doubleSubmissions).toHaveLength(1);
    expect(verdictOf({ refused: 1 }).doubleSubmissions).toHaveLength(1);
    expect(
      judge({ tasks: [{ ...failed, submissions: 1 }], windows: { creativeForce: 1, sent: 1 } }).doubleSubmissions,
    ).toHaveLength(1);
  });

  it('calls more paid starts than expected a double-paid generation', () => {
    expect(verdictOf({ paid: 2, paidExpected: 1 }).doublePaid).toEqual(['t (convert): 2 paid starts, 1 expected']);
  });

  it('calls a failure with no report unreported', () => {
    expect(judge({ tasks: [{ ...failed, reports: 0 }], windows: { creativeForce: 1, sent: 1 } }).unreportedFailures).toHaveLength(
      1,
    );
    expect(judge({ tasks: [{ ...failed, reports: 2 }], windows: { creativeForce: 1, sent: 1 } }).repeatedReports).toHaveLength(1);
  });

  it('flags a 1-second window above 20 calls as the service sent them (the simulator count is only shown)', () => {
    expect(defects(verdictOf({}, 21)).windowAboveLimit).toEqual(['21 calls in 1 s']);
    expect(defects(verdictOf({}, 20)).windowAboveLimit).toEqual([]);
  });

  it('prints the matrix with the tasks under each defect', () => {
    const text = formatMatrix(verdictOf({ paid: 3, paidExpected: 1 }), { duration: '1.0 s' });
    expect(text).toMatch(/^tasks +1$/m);
    expect(text).toMatch(/^double-paid generations +1\n {4}t \(convert\): 3 paid starts, 1 expected$/m);
    expect(text).toMatch(/^duration +1\.0 s$/m);
    expect(text).toMatch(/^largest 1-s window \(limit 20\) +10 as sent \(11 at the simulator, timed in this process\)$/m);
  });
});
