// Drives Debian's Chromium (headless) with playwright-core for tests/browser/test_andon_page.py.
// Usage: node drive_andon.mjs BASE_URL SCREENSHOT_DIR
// Logs in (TAKTLINE_USER, TAKTLINE_PASSWORD), opens the andon board at `/`, waits for crimp-02's
// breakdown alarm, reads it, clicks Acknowledge and waits for "acknowledged by" (no reload);
// then visits every monitoring page and collects its text, the ids and tags on hover (`title`)
// and the header's time. Saves a screenshot per page; prints one JSON line.
import { join } from "node:path";
import { logIn, openChromium } from "./chromium.mjs";

const [base, shots] = process.argv.slice(2);
const root = base.replace(/\/$/, "");
const { page, close } = await openChromium({ width: 1600, height: 900 });
const result = { loads: 0, pages: {} };
const errors = [];
try {
  await logIn(page, root, "/");
  await page.locator("#logout").waitFor({ timeout: 10000 });
  page.on("load", () => { result.loads += 1; });
  page.on("pageerror", (err) => errors.push(String(err)));

  // The landing page is the andon board.
  result.landing = new URL(page.url()).pathname;
  const alarm = page.locator('.andon-alarm[data-kind="stop"]', { hasText: "CRIMP-2" });
  await alarm.waitFor({ timeout: 10000 });
  await page.evaluate(() => { window.__sameDocument = true; });
  result.machine_order = await page.locator(".andon-machine").evaluateAll((nodes) => nodes.map((n) => n.dataset.station));
  result.crimp02 = await page.locator('.andon-machine[data-station="crimp-02"] .andon-state').textContent();
  result.alarm = {
    id: await alarm.getAttribute("data-alarm"),
    text: await alarm.locator(".andon-text").textContent(),
    cause: await alarm.locator(".andon-cause").textContent(),
    since: await alarm.locator(".andon-since").textContent(),
    since_title: await alarm.locator(".andon-since time").getAttribute("title"),
  };
  result.alarm_kinds = await page.locator(".andon-alarm").evaluateAll((nodes) => nodes.map((n) => n.dataset.kind));
  result.font_px = await page.locator('.andon-machine[data-station="crimp-02"] .andon-state').evaluate(
    (node) => parseFloat(getComputedStyle(node).fontSize));
  await page.screenshot({ path: join(shots, "andon.png"), fullPage: true });

  await alarm.locator("button.andon-ack").click();
  await alarm.locator(".andon-acked").waitFor({ timeout: 5000 });
  result.acked = await alarm.locator(".andon-acked").textContent();
  result.same_document = await page.evaluate(() => window.__sameDocument === true);
  result.header_now = await page.locator("#now").textContent();
  await page.screenshot({ path: join(shots, "andon-acknowledged.png"), fullPage: true });

  // time travel: the slider back to a third of the log (before the breakdown), then live again
  const slide = async (value) => page.locator("#travel-range").evaluate((range, v) => {
    range.value = String(v);
    range.dispatchEvent(new Event("input", { bubbles: true }));
  }, value);
  await slide(300);
  await page.locator("#history").waitFor({ timeout: 10000 });
  result.history = await page.locator("#history").textContent();
  result.crimp02_then = await page.locator('.andon-machine[data-station="crimp-02"] .andon-state').textContent();
  await page.screenshot({ path: join(shots, "andon-history.png"), fullPage: true });
  await page.locator("#travel-live").click();
  await page.locator("#history").waitFor({ state: "detached", timeout: 10000 });
  result.crimp02_live = await page.locator('.andon-machine[data-station="crimp-02"] .andon-state').textContent();

  const pages = {
    overview: ["/overview", "#machines .tile"],
    machine: ["/machines/crimp-02", "#timeline"],
    tooling: ["/tooling", "table"],
    labour: ["/labour", "table"],
    deliveries: ["/deliveries", "table"],
    corrections: ["/corrections", "#correction-form"],
  };
  for (const [name, [path, selector]] of Object.entries(pages)) {
    await page.goto(root + path);
    await page.locator(selector).first().waitFor({ timeout: 10000 });
    await page.waitForFunction(() => document.body.dataset.rendered !== undefined, null, { timeout: 10000 });
    result.pages[name] = {
      text: await page.locator("main").innerText(),
      titles: await page.locator("main [title]").evaluateAll((nodes) => nodes.map((n) => n.getAttribute("title"))),
    };
    await page.screenshot({ path: join(shots, `names-${name}.png`), fullPage: true });
  }
  result.errors = errors;
} finally {
  await close();
}
process.stdout.write(JSON.stringify(result) + "\n");
