/**
 * A reporter that ends the run with one plain line, `N passed, N failed`
 * (`, N skipped` when any were skipped), counting the tests of every project.
 * A test file that failed outside its tests (import error, failing hook) and
 * each unhandled error count as one failure, so the line never says
 * `0 failed` for a run that exits non-zero. Vitest sets the exit code.
 */
import type { SerializedError } from "vitest";
import type { Reporter, TestModule, Vitest } from "vitest/node";

export default class SummaryReporter implements Reporter {
  private vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const testModule of testModules) {
      let moduleFailures = 0;
      for (const test of testModule.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") moduleFailures++;
        else if (state === "skipped") skipped++;
      }
      const brokenOutsideTests =
        testModule.errors().length > 0 || [...testModule.children.allSuites()].some((s) => s.errors().length > 0);
      if (moduleFailures === 0 && (brokenOutsideTests || testModule.state() === "failed")) moduleFailures = 1;
      failed += moduleFailures;
    }
    failed += unhandledErrors.length;
    const line = `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`;
    if (this.vitest) this.vitest.logger.log(line);
    else console.log(line);
  }
}
