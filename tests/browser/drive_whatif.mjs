// Drives Debian's Chromium (headless) with playwright-core for tests/browser/test_whatif_page.py.
// Usage: node drive_whatif.mjs BASE_URL SCREENSHOT_DIR
// Logs in as a planner, opens the What-if page, adds "a machine down" for the first machine from
// the pick list (2 h) and "an order cancelled" (ORDER from the environment), runs both, reads the
// side-by-side table, then promotes the cancellation. Prints one JSON line with what it saw.
import { join } from "node:path";
import { logIn, openChromium } from "./chromium.mjs";

const [base, shots] = process.argv.slice(2);
const root = base.replace(/\/$/, "");
const { page, close } = await openChromium();
const result = { errors: [] };
try {
  page.on("pageerror", (err) => result.errors.push(String(err)));
  await logIn(page, root, "/whatif");
  await page.locator("#whatif-form").waitFor({ timeout: 10000 });
  const form = page.locator("#whatif-form");
  result.machines = await form.locator('select[name="resource"] option').allTextContents();
  await form.locator('input[name="scenario"]').fill("press down");
  await form.locator('input[name="hours"]').fill("2");
  await form.locator("button[type=submit]").click();
  await page.locator("#view table", { hasText: "press down" }).waitFor({ timeout: 5000 });
  await form.locator('select[name="kind"]').selectOption("cancel_order");
  await form.locator('input[name="scenario"]').fill("drop one");
  await form.locator('select[name="order"]').selectOption(process.env.ORDER);
  await form.locator("button[type=submit]").click();
  await page.locator("#whatif-run:not([disabled])").click();
  await page.locator("#whatif-table").waitFor({ timeout: 20000 });
  result.table = await page.locator("#whatif-table").innerText();
  result.promote_enabled = await page.locator(".scenario-result", { hasText: "drop one" }).locator("button").isEnabled();
  result.floor_promote_enabled = await page.locator(".scenario-result", { hasText: "press down" }).locator("button").isEnabled();
  await page.locator(".scenario-result", { hasText: "drop one" }).locator("button").click();
  await page.locator("#whatif-say.ok").waitFor({ timeout: 10000 });
  result.promoted = await page.locator("#whatif-say").innerText();
  await page.screenshot({ path: join(shots, "whatif.png"), fullPage: true });
} catch (error) {
  result.failed = String(error);
} finally {
  await close();
}
console.log(JSON.stringify(result));
