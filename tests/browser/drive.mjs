// Drives Debian's Chromium (headless) with playwright-core for tests/browser/test_pages.py.
// Usage: node drive.mjs BASE_URL SCREENSHOT_DIR
// Talks to the test over stdio, one line each way: prints "RUNNING" once the overview shows
// crimp-01 RUNNING, waits for a line on stdin (the test has sent the stop), then waits at most
// 5 s for STOPPED without a reload, takes a screenshot of every page and prints a JSON result.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, shots] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const profile = mkdtempSync(join(tmpdir(), "taktline-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 900 },
});
const result = { screenshots: [], loads: 0 };
try {
  const page = context.pages()[0] || await context.newPage();
  // Log in through the login page first (the test passes the name and password).
  await page.goto(`${base.replace(/\/$/, "")}/login?next=/`);
  await page.locator("#name").fill(process.env.TAKTLINE_USER);
  await page.locator("#password").fill(process.env.TAKTLINE_PASSWORD);
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith("/login")), page.locator('#login-form button').click()]);
  await page.locator("#logout").waitFor({ timeout: 10000 });
  page.on("load", () => { result.loads += 1; });
  const errors = [];
  page.on("pageerror", (err) => errors.push(String(err)));
  await page.goto(`${base.replace(/\/$/, "")}/overview`);
  const tile = page.locator('[data-station="crimp-01"] .state');
  await tile.filter({ hasText: "RUNNING" }).waitFor({ timeout: 10000 });
  await page.evaluate(() => { window.__sameDocument = true; });
  process.stdout.write("RUNNING\n");
  await lines.next();
  const began = Date.now();
  await page.locator('[data-station="crimp-01"] .state[data-state="STOPPED"]').waitFor({ timeout: 5000 });
  result.stopped_after_ms = Date.now() - began;
  result.same_document = await page.evaluate(() => window.__sameDocument === true);
  result.stopped_text = await tile.textContent();
  result.tile_colour = await page.locator('[data-station="crimp-01"]').evaluate(
    (node) => getComputedStyle(node).borderLeftColor);
  await page.screenshot({ path: join(shots, "overview.png"), fullPage: true });
  result.screenshots.push("overview.png");
  const pages = {
    machine: ["/machines/crimp-01", "#timeline"],
    tooling: ["/tooling", "table"],
    labour: ["/labour", "table"],
    deliveries: ["/deliveries", "table"],
    kanban: ["/kanban", "table"],
    corrections: ["/corrections", "#correction-form[data-ready]"],
  };
  result.text = {};
  for (const [name, [path, selector]] of Object.entries(pages)) {
    await page.goto(base.replace(/\/$/, "") + path);
    await page.locator(selector).first().waitFor({ timeout: 10000 });
    await page.waitForFunction(() => document.body.dataset.rendered !== undefined, null, { timeout: 10000 });
    result.text[name] = await page.locator("main").innerText();
    await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
    result.screenshots.push(`${name}.png`);
  }
  result.errors = errors;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(result) + "\n");
