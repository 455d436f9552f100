// What both browser scripts share: the run's settings from the environment that
// tests/tests/console_browser.rs sets, the screenshot folder, and the check that stops a run
// naming what failed.
import { mkdirSync } from "node:fs";

/** A required environment variable. */
export const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
export const base = env("ONEVISIT_BASE");
export const shots = env("ONEVISIT_SHOTS");
export const expected = JSON.parse(env("ONEVISIT_EXPECT"));
mkdirSync(shots, { recursive: true });

/** A check that fails the run, naming `what` (and the browser, when given). */
export function checker(browser) {
  return (condition, what) => {
    if (!condition) throw new Error(`check failed${browser ? ` (${browser})` : ""}: ${what}`);
  };
}
