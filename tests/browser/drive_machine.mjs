// Drives Debian's Chromium (headless) with playwright-core for tests/browser/test_machine_page.py.
// Usage: node drive_machine.mjs BASE_URL SCREENSHOT_DIR STATION
// Logs in (name and password in the environment), opens /machines/STATION and reads the state
// timeline (axis ticks, legend, the stretches' hover texts), the state history's first page and
// the pager, then turns to the older page; the upcoming schedule, the job steps and the cycle time
// against standard. Prints one JSON line with what it saw; the page is saved as a screenshot.
import { join } from "node:path";
import { logIn, openChromium } from "./chromium.mjs";

const [base, shots, station] = process.argv.slice(2);
const root = base.replace(/\/$/, "");
const { page, close } = await openChromium();
const result = { errors: [] };
try {
  page.on("pageerror", (err) => result.errors.push(String(err)));
  await logIn(page, root, `/machines/${station}`);
  await page.locator("#timeline .timeline-chart").waitFor({ timeout: 10000 });
  await page.waitForFunction(() => document.querySelectorAll("#machine-upcoming tbody tr").length > 0, null, { timeout: 10000 });
  result.ticks = await page.locator("#timeline .tick").allTextContents();
  result.tick_marks = await page.locator("#timeline .tick-mark").count();
  result.legend = await page.locator("#timeline-legend").innerText();
  result.stretches = await page.locator("#timeline rect.stretch title").allTextContents();
  result.history_rows = await page.locator("#machine-history tbody tr").count();
  result.history_first = await page.locator("#machine-history tbody tr").first().innerText();
  result.pager = await page.locator("#machine-pager").innerText();
  result.upcoming = await page.locator("#machine-upcoming tbody tr").allInnerTexts();
  result.upcoming_titles = await page.locator("#machine-upcoming tbody .named").evaluateAll((n) => n.map((x) => x.title));
  result.jobs = await page.locator("#machine-jobs tbody tr").allInnerTexts();
  result.job_titles = await page.locator("#machine-jobs tbody .named").evaluateAll((n) => n.map((x) => x.title));
  result.cycle = await page.locator("#cycle-vs-standard").innerText();
  await page.screenshot({ path: join(shots, "machine-detail.png"), fullPage: true });
  await page.locator("#machine-pager button", { hasText: "older" }).click();
  await page.locator("#machine-pager", { hasText: "page 2 of" }).waitFor({ timeout: 5000 });
  result.older_rows = await page.locator("#machine-history tbody tr").count();
  result.older_pager = await page.locator("#machine-pager").innerText();
  await page.locator("#timeline-legend button", { hasText: "1 h" }).click();
  await page.locator("#timeline-legend button.current", { hasText: "1 h" }).waitFor({ timeout: 5000 });
  result.span_1h = [await page.locator("#timeline").getAttribute("data-from"), await page.locator("#timeline").getAttribute("data-to")];
  result.page_after_span = await page.locator("#machine-pager").innerText();
} catch (error) {
  result.failed = String(error);
} finally {
  await close();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
