// The web console in a real browser: Playwright (playwright-core) driving Debian's Chromium
// headless against a real onevisit-server that tests/tests/console_browser.rs started and filled.
// Everything it needs comes in the environment; it exits non-zero naming the first check that
// failed, and saves a screenshot of each page it visits.
import { chromium } from "playwright-core";
import { join } from "node:path";
import { base, checker, env, expected, shots } from "./harness.mjs";

const check = checker();

const browser = await chromium.launch({
  executablePath: process.env.ONEVISIT_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
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
  // Another department's task answers 403, with nothing of it on the page.
  const forbidden = await page.goto(`${base}/console/tasks/${expected.marketTask}`);
  check(forbidden.status() === 403, `403 for another department's task, not ${forbidden.status()}`);
  check(!(await page.content()).includes("SCJG-001-01"), "nothing of the forbidden task shown");
  await shot("04-forbidden");
  await page.goto(`${base}/console/dashboard`);
  await page.click("header form button[type=submit]");
  await page.waitForURL(/\/console\/login/);

  // The administrator again: the joint task recorded by three devices.
  await page.fill("input[name=name]", "admin");
  await page.fill("input[name=password]", env("ONEVISIT_ADMIN_PASSWORD"));
  await page.click("button[type=submit]");
  await page.waitForURL(/\/console\/dashboard/);
  await page.goto(`${base}/console/tasks/${expected.jointTask}`);
  const conflicts = await page.$$eval("#conflicts li", (n) => n.map((x) => x.textContent));
  check(conflicts.some((c) => c.includes("SCJG-001-01")), `the conflict on SCJG-001-01 listed: ${conflicts}`);
  const documents = await page.textContent("#documents");
  check(documents.includes("已签全") && documents.includes("缺"), `signed and unsigned documents: ${documents}`);
  check(documents.includes("有效"), "each signature's status");
  await page.locator("#photos").scrollIntoViewIfNeeded();
  await page.waitForFunction(() => [...document.querySelectorAll("#photos img")].every((i) => i.complete && i.naturalWidth > 0));
  const thumbnails = await page.$$eval("#photos img", (n) => n.map((i) => i.naturalWidth));
  check(thumbnails.length >= 1 && thumbnails.every((w) => w > 0 && w <= 320), `thumbnails shown: ${thumbnails} ${await page.innerHTML("#photos")}`);
  const edits = await page.textContent("#edits");
  check(edits.includes("赵明") && edits.includes("何杰") && edits.includes("附上照片"), "who wrote what");
  await shot("05-task");
  const [original] = await Promise.all([context.waitForEvent("page"), page.click("#photos figure:has-text(\"检查要点\") a")]);
  await original.waitForLoadState();
  const photo = await original.evaluate(() => ({ w: document.images[0]?.naturalWidth || 0, type: document.contentType }));
  check(photo.type === "image/jpeg" && photo.w > 320, `the original opens: ${JSON.stringify(photo)}`);
  await original.close();

  // A draw: the plan form, the preview, the commitment, the draw, the record.
  await page.goto(`${base}/console/draws`);
  await page.fill("input[name=plan_id]", "2026-浏览器-01");
  await page.fill("input[name=title]", "浏览器测试抽查");
  await page.fill("input[name=start]", expected.from);
  await page.fill("input[name=end]", expected.to);
  for (const grade of ["A", "B", "C", "D"]) await page.fill(`input[name=ratio_${grade}]`, "100");
  for (const value of ["scjg", "xfjy", "scjg/SCJG-001", "xfjy/XFJY-001"]) await page.check(`input[value="${value}"]`);
  await page.fill("input[name=towns]", "钟埭街道");
  await page.fill("input[name=industries]", "餐饮");
  await page.click("#plan-form button[type=submit]");
  await page.waitForURL(/\/console\/draws\/preview/);
  check((await page.textContent("#preview-tasks")).trim() === "1", "the preview forms one task");
  check((await page.textContent("#preview-joint")).trim() === "1", "a joint one");
  check(Number(await page.textContent("#pool-enterprises")) > 10, "the pool counted");
  await shot("06-draw-preview");
  await page.click("#commit-form button[type=submit]");
  await page.waitForURL(/\/console\/draws\/show/);
  check((await page.textContent("#draw-state")).includes("尚未抽取"), "registered, not drawn");
  check(/^[0-9a-f]{64}$/.test((await page.textContent("#commitment")).trim()), "the seed's hash published");
  await page.waitForTimeout(20);
  await page.click("#publish-form button[type=submit]");
  await page.waitForURL(/\/console\/draws\/show/);
  check((await page.textContent("#draw-state")).includes("已于"), "drawn and published");
  check((await page.$$("#formed-tasks a")).length === 1, "its task linked");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#record-download")]);
  await download.saveAs(join(shots, "draw-record.json"));
  await shot("07-draw-published");

  // An enrolment code as a QR code for a handheld to scan.
  await page.goto(`${base}/console/devices`);
  await page.selectOption("#enrolment-form select[name=inspector]", "xfjy-03");
  await page.fill("#enrolment-form input[name=server]", base);
  await page.click("#enrolment-form button[type=submit]");
  await page.waitForURL(/\/console\/devices\/enrolments/);
  check(/^[0-9A-Z]{12}$/.test((await page.textContent("#enrolment-code")).trim()), "a one-time code");
  await page.locator("#enrolment-qr svg").screenshot({ path: join(shots, "qr.png") });
  await shot("08-enrolment");

  // A device revoked with a reason.
  await page.goto(`${base}/console/devices`);
  const row = page.locator(`tr[data-device="${expected.lostDevice}"]`);
  await row.locator("input[name=reason]").fill("设备遗失（浏览器测试）");
  await row.locator("button[type=submit]").click();
  await page.waitForURL(/revoked=/);
  check((await page.textContent("#notice")).includes(expected.lostDevice), "the revocation confirmed");
  check((await row.locator(".state").textContent()).includes("已吊销"), "the device shown revoked");
  await shot("09-devices");

  // An evidence bundle: every check passes; a tampered copy fails, named.
  await page.goto(`${base}/console/bundles`);
  await page.setInputFiles("input[type=file]", expected.bundle);
  await page.click("#bundle-form button[type=submit]");
  await page.waitForURL(/\/console\/bundles\/check/);
  check((await page.textContent("#bundle-summary")).startsWith("全部"), await page.textContent("#bundle-summary"));
  check((await page.$$("#bundle-checks tr.fail")).length === 0, "no failed check");
  check((await page.$$("#bundle-checks tr.pass")).length >= 5, "every check listed");
  await shot("10-bundle-valid");
  await page.goto(`${base}/console/bundles`);
  await page.setInputFiles("input[type=file]", expected.tampered);
  await page.click("#bundle-form button[type=submit]");
  await page.waitForURL(/\/console\/bundles\/check/);
  check((await page.textContent("#bundle-summary")).includes("未通过"), "the tampered bundle fails");
  const failed = await page.$$eval("#bundle-checks tr.fail td:first-child", (n) => n.map((x) => x.textContent));
  check(failed.includes("内容清单"), `the failure named: ${failed}`);
  await shot("11-bundle-tampered");

  // Every change above is in the signed action log.
  await page.goto(`${base}/console/actions`);
  const logged = await page.$$eval("#actions .good", (n) => n.length);
  check(logged === 4, `four signed actions (commit, publish, enrolment, revocation), not ${logged}`);
  await shot("12-actions");
  console.log("console browser checks passed");
} finally {
  await browser.close();
}
