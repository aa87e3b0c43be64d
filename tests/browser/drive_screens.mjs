// Drives Debian's Chromium (headless) with playwright-core for tests/browser/test_screens.py.
// Usage: node drive_screens.mjs BASE_URL SCREENSHOT_DIR
// Logs in (the test passes the name and password in the environment), then:
//  - Corrections: waits for the form's pick lists, chooses a forgotten badge-out, puts a station
//    the plant does not know (cut-1: as a stale list or a tampered page would) into the station
//    list, submits, and reads the refusal shown and the recorded table; then records a correct one.
//  - Gap report: reads the heat strip, the late orders with their causes and the relied-on list.
// Prints one JSON line with what it saw; every page is saved as a screenshot.
import { join } from "node:path";
import { logIn, openChromium } from "./chromium.mjs";

const [base, shots] = process.argv.slice(2);
const root = base.replace(/\/$/, "");
const { page, close } = await openChromium();
const result = { errors: [] };
try {
  page.on("pageerror", (err) => result.errors.push(String(err)));
  await logIn(page, root, "/corrections");

  // --- Corrections -----------------------------------------------------------------------------
  await page.locator('#correction-form[data-ready="true"]').waitFor({ timeout: 10000 });
  const form = page.locator("#correction-form");
  result.station_options = await form.locator("#correction-station option").allTextContents();
  result.operator_options = await form.locator("#correction-operator option").allTextContents();
  await form.locator("#correction-correction").selectOption("badge_out");
  result.hidden_for_badge_out = await form.locator("#correction-count").isHidden();
  await form.locator("#correction-station").evaluate((select) => select.append(new Option("cut-1", "cut-1")));
  await form.locator("#correction-station").selectOption("cut-1");
  await form.locator("#correction-operator").selectOption({ index: 1 });
  await form.locator("#correction-reason").fill("forgot to tap out");
  await form.locator("#correction-at").fill(process.env.PLANT_TIME || "");
  await form.locator("button[type=submit]").click();
  await page.locator("#result.flag").waitFor({ timeout: 5000 });
  result.refusal = await page.locator("#result").innerText();
  result.recorded_after_refusal = await page.locator("#view table:last-of-type tbody").innerText();
  await page.screenshot({ path: join(shots, "corrections-refused.png"), fullPage: true });
  await form.locator("#correction-station").selectOption(process.env.STATION);
  await form.locator("#correction-reason").fill("forgot to tap out");
  await form.locator("#correction-operator").selectOption({ index: 1 });
  await form.locator("#correction-at").fill(process.env.PLANT_TIME || "");
  await form.locator("button[type=submit]").click();
  await page.locator("#result", { hasText: "recorded" }).waitFor({ timeout: 5000 });
  await page.locator("#view table:last-of-type tbody tr", { hasText: "forgot to tap out" }).waitFor({ timeout: 5000 });
  result.recorded = await page.locator("#view table:last-of-type tbody").innerText();
  await page.screenshot({ path: join(shots, "corrections.png"), fullPage: true });

  // --- Gap report ------------------------------------------------------------------------------
  if (process.env.GAPS) {
    await page.goto(`${root}/gaps`);
    await page.locator("#gap-report[data-ready]").waitFor({ timeout: 15000 });
    result.heat_cells = await page.locator("#heat-strip .cell").count();
    result.heat_rows = await page.locator("#heat-strip [data-group]").evaluateAll((rows) => rows.map((r) => r.dataset.group));
    result.heat_axis = await page.locator("#heat-strip .tick").allTextContents();
    result.late_orders = await page.locator("#late-orders tbody tr[data-order]").evaluateAll((rows) => rows.map((r) => [r.dataset.order, r.innerText]));
    result.relied_on = await page.locator("#relied-on").innerText();
    result.gaps_text = await page.locator("#view").innerText();
    await page.screenshot({ path: join(shots, "gaps.png"), fullPage: true });
  }
} catch (error) {
  result.failed = String(error);
} finally {
  await close();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
