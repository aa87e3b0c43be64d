// Drives Debian's Chromium (headless) with playwright-core for tests/browser/test_demo_screens.py,
// on a demo-like cloud. Usage: node drive_demo.mjs BASE_URL SCREENSHOT_DIR (DELIVERY in the
// environment). Logs in (name and password in the environment), then:
//  - Deliveries: waits for the delivery's row to list production orders, reads each one it feeds.
//  - Report: opens /report with no period and reads the period the page chose (its rule, its
//    fields), the report it fetched (GET /api/report, as JSON) and each machine's OEE cell.
// Prints one JSON line with what it saw; both pages are saved as screenshots.
import { join } from "node:path";
import { logIn, openChromium } from "./chromium.mjs";

const [base, shots] = process.argv.slice(2);
const root = base.replace(/\/$/, "");
const delivery = process.env.DELIVERY;
const { page, close } = await openChromium({ width: 1500, height: 1000 });
const result = { errors: [] };
try {
  page.on("pageerror", (err) => result.errors.push(String(err)));
  page.on("response", async (response) => {
    if (new URL(response.url()).pathname === "/api/report" && response.ok()) result.report = await response.json();
  });
  await logIn(page, root, "/deliveries");

  // --- Deliveries ------------------------------------------------------------------------------
  const row = page.locator("main tr", { has: page.locator("td", { hasText: new RegExp(`^${delivery}$`) }) });
  await row.locator("[data-order]").first().waitFor({ timeout: 20000 });
  result.feeds = await row.locator("[data-order]").evaluateAll((nodes) => nodes.map((n) => [n.dataset.order, n.innerText]));
  result.row = await row.innerText();
  await page.screenshot({ path: join(shots, "deliveries-feeds.png"), fullPage: true });

  // --- Report: the default period ---------------------------------------------------------------
  await page.goto(`${root}/report`);
  await page.locator("#report-machines").waitFor({ timeout: 30000 });
  await page.waitForFunction(() => document.body.dataset.report === "shown", null, { timeout: 30000 });
  result.rule = await page.locator("#report-period").getAttribute("data-rule");
  result.period = await page.locator("#report-period").innerText();
  result.from = await page.inputValue("#report-from");
  result.to = await page.inputValue("#report-to");
  result.oee = await page.locator("#report-machines tbody tr").evaluateAll((rows) => rows.map((tr) => [
    tr.querySelector('[data-col="machine"] .named').title, tr.querySelector('[data-col="oee"]').innerText]));
  await page.screenshot({ path: join(shots, "report-demo.png"), fullPage: true });
} finally {
  await close();
}
process.stdout.write(JSON.stringify(result) + "\n");
