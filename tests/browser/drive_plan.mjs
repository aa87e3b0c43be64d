// Drives Debian's Chromium (headless) with playwright-core for tests/browser/test_plan_page.py.
// Usage: node drive_plan.mjs BASE_URL SCREENSHOT_DIR
// Talks to the test over stdio, one line each way:
//   -> READY {bars}      the Plan page shows O-0's bar; the planner's name is typed in
//   <- (a line)          the test has sent a change of O-3 (policy ask)
//   -> DECIDED {...}     the decision appeared without reload and "Adjust" was clicked
//   <- (a line)          the test has submitted a breakdown of crimp-01
//   -> {result}          crimp-01 lost work and its row shows the gap (at most 5 s, no reload);
//                        manual mode toggled on and off; Plan and Gap pages saved as screenshots
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, shots] = process.argv.slice(2);
const root = base.replace(/\/$/, "");
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const profile = mkdtempSync(join(tmpdir(), "taktline-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
  viewport: { width: 1400, height: 900 },
});
const result = { loads: 0 };
const errors = [];

// The chart is a canvas (gantt.js): what it holds and last drew comes from its info().
async function info(page) {
  return page.evaluate(() => window.taktlineGantt.current.info());
}

async function bars(page, resource) {
  return (await info(page)).bars[resource] || 0;
}

try {
  const page = context.pages()[0] || await context.newPage();
  // Log in through the login page first (the test passes the name and password).
  await page.goto(`${base.replace(/\/$/, "")}/login?next=/`);
  await page.locator("#name").fill(process.env.TAKTLINE_USER);
  await page.locator("#password").fill(process.env.TAKTLINE_PASSWORD);
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith("/login")), page.locator('#login-form button').click()]);
  await page.locator("#logout").waitFor({ timeout: 10000 });
  page.on("load", () => { result.loads += 1; });
  page.on("pageerror", (err) => errors.push(String(err)));
  await page.goto(`${root}/plan`);
  await page.waitForFunction(() => {
    const chart = window.taktlineGantt && window.taktlineGantt.current;
    return chart && chart.data && chart.drawn.labels.some((l) => l.order === "O-0");
  }, null, { timeout: 10000 });
  await page.evaluate(() => { window.__sameDocument = true; });
  result.before = {
    crimp01: await bars(page, "crimp-01"), crimp02: await bars(page, "crimp-02"),
    gaps: (await info(page)).gaps,
    labels: (await info(page)).drawn.labels.map((l) => l.text),
    now_line: (await info(page)).drawn.now === undefined ? 0 : 1,
  };
  process.stdout.write(`READY ${JSON.stringify(result.before)}\n`);

  await lines.next();
  let began = Date.now();
  const adjust = page.locator('.decide[data-order="O-3"] button', { hasText: "Adjust" });
  await adjust.waitFor({ timeout: 5000 });
  result.decision_after_ms = Date.now() - began;
  result.decision_row = await page.locator("tr", { has: page.locator('.decide[data-order="O-3"]') }).innerText();
  await adjust.click();
  await page.locator('.decide[data-order="O-3"]').waitFor({ state: "detached", timeout: 5000 });
  process.stdout.write(`DECIDED ${JSON.stringify({ after_ms: result.decision_after_ms })}\n`);

  await lines.next();
  began = Date.now();
  result.at_breakdown = { crimp01: await bars(page, "crimp-01"), gaps: (await info(page)).gaps };
  // the breakdown's plan: crimp-01 loses work and its row is shaded by the crimpers' gap
  await page.waitForFunction((held) => {
    const now = window.taktlineGantt.current.info();
    return now.shaded["crimp-01"] > 0 && now.bars["crimp-01"] < held;
  }, result.at_breakdown.crimp01, { timeout: 5000, polling: 50 });
  result.gap_after_ms = Date.now() - began;
  result.same_document = await page.evaluate(() => window.__sameDocument === true);
  result.loads_at_gap = result.loads;
  result.after = {
    crimp01: await bars(page, "crimp-01"), crimp02: await bars(page, "crimp-02"),
    gaps_lane: (await info(page)).gaps_lane,
  };
  await page.screenshot({ path: join(shots, "plan.png"), fullPage: true });

  await page.locator("#manual-toggle").click();
  await page.locator("#mode", { hasText: "manual mode (pia)" }).waitFor({ timeout: 5000 });
  await page.locator("#move-form").waitFor({ timeout: 5000 });
  await page.screenshot({ path: join(shots, "plan-manual.png"), fullPage: true });
  await page.locator("#manual-toggle").click();
  await page.locator("#mode", { hasText: "automatic replanning" }).waitFor({ timeout: 5000 });
  result.export_href = await page.locator("#export").getAttribute("href");

  await page.goto(`${root}/gaps`);
  await page.locator("#gap-table").waitFor({ timeout: 10000 });
  result.gaps_text = await page.locator("main").innerText();
  await page.screenshot({ path: join(shots, "gaps.png"), fullPage: true });
  result.errors = errors;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(result) + "\n");
