// The web console in a real browser: Playwright (playwright-core) driving Debian's Chromium
// headless against a real onevisit-server that tests/tests/console_browser.rs started and filled.
// Everything it needs comes in the environment; it exits non-zero naming the first check that
// failed, and saves a screenshot of each page it visits.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env("ONEVISIT_BASE");
const shots = env("ONEVISIT_SHOTS");
const expected = JSON.parse(env("ONEVISIT_EXPECT"));
mkdirSync(shots, { recursive: true });

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.ONEVISIT_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  // Without a session the console sends the browser to the login page.
  await page.goto(`${base}/console/dashboard`);
  check(page.url().endsWith("/console/login"), `redirected to the login page, at ${page.url()}`);
  await shot("01-login");

  // A wrong password is refused with a message, in Chinese.
  await page.fill("input[name=name]", "admin");
  await page.fill("input[name=password]", "not-the-password");
  await page.click("button[type=submit]");
  check((await page.textContent(".error")).includes("账号或密码不对"), "a wrong password is refused");

  // The administrator logs in and reads the figures of the city.
  await page.fill("input[name=name]", "admin");
  await page.fill("input[name=password]", env("ONEVISIT_ADMIN_PASSWORD"));
  await page.click("button[type=submit]");
  await page.waitForURL(/\/console\/dashboard/);
  check((await page.textContent("h1")).includes("一屏掌控 · 全市"), "the city's dashboard");
  await page.goto(`${base}/console/dashboard?from=${expected.from}&to=${expected.to}`);
  const cards = await page.$$eval("#figures .figure", (nodes) =>
    Object.fromEntries(nodes.map((n) => [n.querySelector(".name").textContent.trim(), n.querySelector(".value").textContent.trim()])));
  for (const [name, value] of Object.entries(expected.cards)) {
    check(cards[name] === value, `${name} shows ${value}, not ${cards[name]}`);
  }
  const bars = await page.$$eval("#rates-chart svg rect[fill='#1F6FB5']", (nodes) => nodes.length);
  check(bars === expected.bars, `${expected.bars} bars in the chart, not ${bars}`);
  const unsigned = await page.$$eval("#unsigned-documents tr", (rows) => rows.length - 1);
  check(unsigned === expected.unsigned, `${expected.unsigned} unsigned documents listed, not ${unsigned}`);
  await shot("02-dashboard-city");

  // The cookie cannot be read by a script of the page.
  check(!(await page.evaluate(() => document.cookie)).includes("onevisit_console"), "the session cookie is HttpOnly");

  // Logging out ends the session: the dashboard sends back to the login.
  await page.click("header form button[type=submit]");
  await page.waitForURL(/\/console\/login/);
  await page.goto(`${base}/console/dashboard`);
  check(page.url().endsWith("/console/login"), "logged out");

  // A department supervisor sees their department only, with no choice of another.
  await page.fill("input[name=name]", "fire");
  await page.fill("input[name=password]", env("ONEVISIT_SUPERVISOR_PASSWORD"));
  await page.click("button[type=submit]");
  await page.waitForURL(/\/console\/dashboard/);
  await page.goto(`${base}/console/dashboard?department=scjg&from=${expected.from}&to=${expected.to}`);
  check((await page.textContent("h1")).includes(expected.supervisorScope), "the supervisor's own department");
  check((await page.$("select[name=department]")) === null, "no department to choose");
  await shot("03-dashboard-supervisor");
  console.log("console browser checks passed");
} finally {
  await browser.close();
}
