// The web console in Firefox: Puppeteer (puppeteer-core) driving Debian's firefox-esr headless over
// WebDriver BiDi, against the same server tests/tests/console_browser.rs filled and Chromium went
// through. The pages use plain HTML forms, CSS grid and server-drawn SVG, so each must work here as
// in Chromium: login, the dashboard and its chart, the task board, a task's page with its conflict,
// signatures and photo thumbnails, the draw preview, the devices page with its QR code and a bundle
// check by upload. It exits non-zero naming the first check that failed, with a screenshot of each page.
import puppeteer from "puppeteer-core";
import { join } from "node:path";
import { base, checker, env, expected, shots } from "./harness.mjs";

const check = checker("Firefox");

const browser = await puppeteer.launch({
  browser: "firefox",
  executablePath: process.env.ONEVISIT_FIREFOX || "/usr/bin/firefox-esr",
  headless: true,
  extraPrefsFirefox: { "intl.accept_languages": "zh-CN" },
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(15000);
  await page.setViewport({ width: 1280, height: 900 });
  const shot = (name) => page.screenshot({ path: join(shots, `firefox-${name}.png`), fullPage: true });
  const text = (selector) => page.$eval(selector, (n) => n.textContent.trim());
  const submit = async (selector) => {
    await Promise.all([page.waitForNavigation(), page.click(selector)]);
  };

  await page.goto(`${base}/console/dashboard`);
  check(page.url().endsWith("/console/login"), `redirected to the login page, at ${page.url()}`);
  await page.type("input[name=name]", "admin");
  await page.type("input[name=password]", "not-the-password");
  await submit("button[type=submit]");
  check((await text(".error")).includes("账号或密码不对"), "a wrong password is refused");
  await page.type("input[name=name]", "admin");
  await page.type("input[name=password]", env("ONEVISIT_ADMIN_PASSWORD"));
  await submit("button[type=submit]");
  check(page.url().includes("/console/dashboard"), `logged in, at ${page.url()}`);

  await page.goto(`${base}/console/dashboard?from=${expected.from}&to=${expected.to}`);
  const cards = await page.$$eval("#figures .figure", (nodes) =>
    Object.fromEntries(nodes.map((n) => [n.querySelector(".name").textContent.trim(), n.querySelector(".value").textContent.trim()])));
  for (const [name, value] of Object.entries(expected.cards)) check(cards[name] === value, `${name} shows ${value}, not ${cards[name]}`);
  const bars = await page.$$eval("#rates-chart svg rect[fill='#1F6FB5']", (nodes) => nodes.length);
  check(bars === expected.bars, `${expected.bars} bars in the chart, not ${bars}`);
  await shot("dashboard");

  await page.goto(`${base}/console/tasks`);
  check((await page.$$("table a[href^='/console/tasks/']")).length >= 2, "the board lists the tasks");
  await shot("tasks");

  await page.goto(`${base}/console/tasks/${expected.jointTask}`);
  const conflicts = await page.$$eval("#conflicts li", (n) => n.map((x) => x.textContent));
  check(conflicts.some((c) => c.includes("SCJG-001-01")), `the conflict listed: ${conflicts}`);
  check((await text("#documents")).includes("已签全"), "the signed on-site record");
  await page.$eval("#photos", (n) => n.scrollIntoView());
  await page.waitForFunction(() => [...document.querySelectorAll("#photos img")].every((i) => i.complete && i.naturalWidth > 0));
  await shot("task");

  await page.goto(`${base}/console/draws`);
  await page.type("input[name=plan_id]", "2026-火狐-01");
  await page.type("input[name=title]", "火狐预览");
  await page.$eval("input[name=start]", (n, v) => { n.value = v; }, expected.from);
  await page.$eval("input[name=end]", (n, v) => { n.value = v; }, expected.to);
  for (const grade of ["A", "B", "C", "D"]) await page.$eval(`input[name=ratio_${grade}]`, (n) => { n.value = "100"; });
  for (const value of ["scjg", "xfjy", "scjg/SCJG-001", "xfjy/XFJY-001"]) await page.click(`input[value="${value}"]`);
  await page.type("input[name=towns]", "钟埭街道");
  await page.type("input[name=industries]", "餐饮");
  await submit("#plan-form button[type=submit]");
  check((await text("#preview-tasks")) === "1", "the preview forms one task");
  await shot("draw-preview");

  await page.goto(`${base}/console/devices`);
  await page.select("#enrolment-form select[name=inspector]", "xfjy-04");
  await submit("#enrolment-form button[type=submit]");
  const qr = await page.$eval("#enrolment-qr svg", (n) => n.getBoundingClientRect().width);
  check(qr >= 200, `the QR code drawn (${qr} px)`);
  await shot("enrolment");

  await page.goto(`${base}/console/bundles`);
  const input = await page.$("input[type=file]");
  await input.uploadFile(expected.bundle);
  await submit("#bundle-form button[type=submit]");
  check((await text("#bundle-summary")).startsWith("全部"), await text("#bundle-summary"));
  await shot("bundle");
  console.log("firefox console checks passed");
} finally {
  await browser.close();
}
