// Drives Debian's Chromium (headless) with playwright-core (installed for tests/browser) for
// tests/report/test_page.py. Usage: node drive_report.mjs URL SCREENSHOT. Opens the Report page,
// waits until the report is drawn (with standard vs learned times), then picks a shorter period with the pickers and waits for
// the redrawn report; then opens /report with no period (the default: the last shift); prints a JSON line: the Pareto bars' reasons, the machine table's text
// (both times) and any page errors.
import { chromium } from "../browser/node_modules/playwright-core/index.mjs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, shot] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), "taktline-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
  viewport: { width: 1600, height: 1100 },
  timezoneId: "UTC",
});
const result = { errors: [] };
try {
  const page = context.pages()[0] || await context.newPage();
  page.on("pageerror", (err) => result.errors.push(String(err)));
  await page.goto(url);
  await page.locator("#report-machines").waitFor({ timeout: 15000 });
  result.bars = await page.locator("#pareto rect").evaluateAll((bars) => bars.map((b) => b.dataset.reason));
  result.machines = await page.locator("#report-machines").innerText();
  await page.locator("#report-learned").waitFor({ timeout: 15000 });
  result.learned = await page.locator("#report-learned").innerText();
  await page.screenshot({ path: shot.replace(/report\.png$/, "report-period.png"), fullPage: true });
  // A shorter period through the pickers (UTC here): 06:30-07:30 holds only the breakdown.
  await page.fill("#report-from", "2026-03-23 06:30");
  await page.fill("#report-to", "2026-03-23T07:30");  // the ISO "T" is read too
  await page.click("#report-form button");
  await page.waitForFunction(() => document.querySelectorAll("#pareto rect").length === 1, null, { timeout: 15000 });
  result.bars_after = await page.locator("#pareto rect").evaluateAll((bars) => bars.map((b) => b.dataset.reason));
  result.address = page.url();
  // The default period: /report with no period in the address opens on the last completed shift.
  await page.goto(`${new URL(url).origin}/report`);
  await page.locator("#report-machines").waitFor({ timeout: 15000 });
  result.default_rule = await page.locator("#report-period").getAttribute("data-rule");
  result.default_period = await page.locator("#report-period").innerText();
  result.default_from = await page.inputValue("#report-from");
  result.default_to = await page.inputValue("#report-to");
  result.default_machines = await page.locator("#report-machines").innerText();
  result.header_tips = await page.locator("#report-machines th").evaluateAll((ths) => ths.map((th) => [th.innerText, th.title]));
  result.legend = await page.locator("#report-legend").innerText();
  result.cycle_charts = await page.locator(".cycle-chart").evaluateAll((charts) => charts.map((c) => ({
    process: c.dataset.process, ticks: [...c.querySelectorAll(".tick")].map((t) => t.textContent),
    actual: c.querySelectorAll("polyline.actual").length, standard: c.querySelectorAll("polyline.standard").length })));
  result.inline_styles = await page.locator("style").count();
  result.groups = await page.locator("#report-machines tr.groups th").evaluateAll((ths) => ths.map((th) => [th.innerText, th.colSpan]));
  result.hidden_heads = await page.locator("#report-machines th.detail-col").evaluateAll((ths) => ths.map((th) => th.textContent));
  await page.screenshot({ path: shot, fullPage: true });  // the tour's picture (docs/ui.md)
  // Every column: the details toggle shows the rarely needed ones, and the groups widen.
  await page.click("#report-details");
  result.all_machines = await page.locator("#report-machines").innerText();
  result.all_groups = await page.locator("#report-machines tr.groups th").evaluateAll((ths) => ths.map((th) => [th.innerText, th.colSpan]));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
