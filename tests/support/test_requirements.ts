/**
 * Tests that need something outside the repository (a browser, a database server): each need is
 * probed once per process; where it is missing its tests are registered as ignored, with the
 * reason and an install hint printed, never failed and never skipped in silence. With
 * `TEST_REQUIREMENTS=required` (what `.ci/run` sets) a missing need fails its tests instead.
 */

/** The environment variable that turns a missing requirement from "ignored" into "failed". */
export const STRICT_REQUIREMENTS_ENV = "TEST_REQUIREMENTS";

/** What a probe found: the thing the tests need, or why it is missing and how to get it. */
export type ProbeResult<T> =
  | { met: true; value: T; description: string }
  | { met: false; reason: string };

/** Something a group of tests needs, probed at most once per process. */
export interface TestRequirement<T> {
  /** What is needed, as a user would say it ("Chromium", "a PostgreSQL server"). */
  readonly name: string;
  /** How to get it, printed when it is missing. */
  readonly hint: string;
  /** The probe's answer; the first call runs it, later calls get the same answer. */
  check(): Promise<ProbeResult<T>>;
}

/**
 * A requirement whose `probe` runs once, on the first `check()`; a probe that throws counts as
 * "missing", with the error as its reason.
 *
 * @example
 * ```ts
 * const postgres = defineRequirement({
 *   name: "a PostgreSQL server",
 *   hint: "Install it: sudo apt-get install postgresql",
 *   probe: async () => ({ met: true, value: "/usr/lib/postgresql/15/bin", description: "15" }),
 * });
 * ```
 */
export function defineRequirement<T>(
  spec: { name: string; hint: string; probe: () => Promise<ProbeResult<T>> },
): TestRequirement<T> {
  let answer: Promise<ProbeResult<T>> | undefined;
  return {
    name: spec.name,
    hint: spec.hint,
    check: () =>
      answer ??= spec.probe().catch((error): ProbeResult<T> => ({
        met: false,
        reason: error instanceof Error ? error.message : String(error),
      })),
  };
}

/**
 * A requirement met when both `first` and `second` are (a browser test on a database cluster):
 * its tests get both values; where one is missing, the reason names it and its hint.
 *
 * @example
 * ```ts
 * const clusterBrowserTest = await testsRequiring(bothOf(chromiumRequirement, postgresRequirement));
 * clusterBrowserTest("…", {}, async ([chromium, postgres]) => { ... });
 * ```
 */
export function bothOf<A, B>(
  first: TestRequirement<A>,
  second: TestRequirement<B>,
): TestRequirement<[A, B]> {
  return defineRequirement({
    name: `${first.name} and ${second.name}`,
    hint: "See docs/testing.md, “Tests that need something outside the repository”",
    probe: async () => {
      const [a, b] = await Promise.all([first.check(), second.check()]);
      if (!a.met) return { met: false, reason: `${first.name}: ${a.reason} (${first.hint})` };
      if (!b.met) return { met: false, reason: `${second.name}: ${b.reason} (${second.hint})` };
      return {
        met: true,
        value: [a.value, b.value],
        description: `${a.description}; ${b.description}`,
      };
    },
  });
}

/** Options of one test, as `Deno.test` takes them, less what the helper decides. */
export type RequiringTestOptions = Omit<Deno.TestDefinition, "name" | "fn" | "ignore">;

/** Registers one test that receives what the requirement found. */
export type RequiringTest<T> = (
  name: string,
  options: RequiringTestOptions,
  fn: (value: T, context: Deno.TestContext) => Promise<void>,
) => void;

// Each requirement's finding is printed once per process, not once per test.
const announced = new Set<string>();
const explained = new Set<string>();

/**
 * Probes `requirement` and returns a `Deno.test` for tests that need it: they run with the
 * probe's value when it is met, and are ignored with a printed reason otherwise (or fail, under
 * `TEST_REQUIREMENTS=required`).
 *
 * @example
 * ```ts
 * const browserTest = await testsRequiring(chromiumRequirement);
 * browserTest("the page renders", {}, async (chromium) => { ... });
 * ```
 */
export async function testsRequiring<T>(
  requirement: TestRequirement<T>,
): Promise<RequiringTest<T>> {
  const answer = await requirement.check();
  if (answer.met && !announced.has(requirement.name)) {
    announced.add(requirement.name);
    console.log(`${requirement.name}: ${answer.description}`);
  }
  const strict = Deno.env.get(STRICT_REQUIREMENTS_ENV) === "required";
  return (name, options, fn) => {
    if (answer.met) {
      Deno.test({ ...options, name, fn: (context) => fn(answer.value, context) });
      return;
    }
    const why = `${requirement.name} is missing: ${answer.reason}. ${requirement.hint}`;
    if (strict) {
      Deno.test({
        ...options,
        name,
        fn: () => {
          throw new Error(`${why} (${STRICT_REQUIREMENTS_ENV}=required: missing fails here)`);
        },
      });
      return;
    }
    if (!explained.has(requirement.name)) {
      explained.add(requirement.name);
      console.warn(why);
    }
    console.warn(`ignored: "${name}" (needs ${requirement.name})`);
    Deno.test({ ...options, name, ignore: true, fn: () => {} });
  };
}
