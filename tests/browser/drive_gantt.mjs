// Drives Debian's Chromium (headless) for tests/browser/test_plan_gantt.py: the Plan page's
// canvas Gantt (gantt.js), read through its info() and the canvas's pixels.
// Usage: node drive_gantt.mjs BASE_URL SCREENSHOT_DIR
//   -> READY {...}   labels at the 1 h zoom, due markers at 8 h, the filters and a drag checked
//   <- (a line)      the test has submitted a breakdown of crimp-02
//   -> {result}      the down block pushed onto crimp-02's row, a late order clicked, its cause
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
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
  viewport: { width: 1400, height: 900 },
});
const result = {};
const errors = [];
const info = (page) => page.evaluate(() => window.taktlineGantt.current.info());

// The colour drawn at chart pixel (x, y), as [r, g, b].
const pixel = (page, x, y) => page.evaluate(([px, py]) => {
  const chart = window.taktlineGantt.current;
  const d = chart.ctx.getImageData(Math.floor(px * chart.ratio), Math.floor(py * chart.ratio), 1, 1).data;
  return [d[0], d[1], d[2]];
}, [x, y]);

async function zoom(page, hours) {
  await page.locator("#span").selectOption(String(hours));
  await page.locator("#pan-now").click();
  await page.evaluate(() => window.taktlineGantt.current.draw());
}

try {
  const page = context.pages()[0] || await context.newPage();
  page.on("pageerror", (err) => errors.push(String(err)));
  await page.goto(`${root}/login?next=/plan`);
  await page.locator("#name").fill(process.env.TAKTLINE_USER);
  await page.locator("#password").fill(process.env.TAKTLINE_PASSWORD);
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith("/login")), page.locator("#login-form button").click()]);
  await page.goto(`${root}/plan`);
  await page.waitForFunction(() => {
    const chart = window.taktlineGantt && window.taktlineGantt.current;
    return chart && chart.data && chart.drawn.labels.length > 0;
  }, null, { timeout: 10000 });
  const plan = await page.evaluate(() => fetch("/api/plan").then((r) => r.json()));

  // 1 h: the order list's O-3 brings its bar into view, its label whole
  await zoom(page, 1);
  await page.locator('#order-list tr[data-order="O-3"]').click();
  await page.evaluate(() => window.taktlineGantt.current.draw());
  let now = await info(page);
  result.one_hour = { span_h: now.span / 3600000, selected: now.selected, labels: now.drawn.labels.filter((l) => l.order === "O-3") };
  await page.screenshot({ path: join(shots, "plan-gantt-1h.png") });

  // 8 h from now: every order's due marker, where its due time is, drawn in its colour
  await page.evaluate(() => window.taktlineGantt.current.select(null));
  await zoom(page, 8);
  now = await info(page);
  result.due = [];
  for (const mark of now.drawn.due) {
    const o = plan.orders.find((x) => x.order === mark.order);
    const at = await page.evaluate((t) => window.taktlineGantt.current.x(t), Date.parse(o.due));
    result.due.push({ order: mark.order, t: mark.t, due: Date.parse(o.due), x: mark.x, x_of_due: at,
      colour: await pixel(page, mark.x, mark.y + now.row / 2), late: mark.late });
  }

  // a drag pans the window by what the pointer moved
  const box = await page.locator("#gantt canvas").boundingBox();
  const before = (await info(page)).t0;
  await page.mouse.move(box.x + 700, box.y + 100);
  await page.mouse.down();
  for (let i = 1; i <= 10; i += 1) await page.mouse.move(box.x + 700 - 20 * i, box.y + 100);
  await page.mouse.up();
  now = await info(page);
  result.drag = { moved_ms: now.t0 - before, expected_ms: 200 * now.span / (now.width - now.label) };
  await page.locator("#pan-now").click();

  // the filters: late only, a product
  await page.locator("#order-late").check();
  result.late_only = await page.locator("#order-list tbody tr[data-order]").count();
  await page.locator("#order-late").uncheck();
  await page.locator("#order-search").fill("O-1");
  result.search = await page.locator("#order-list tbody tr[data-order]").allInnerTexts();
  await page.locator("#order-search").fill("");
  await page.locator("#order-search").blur();
  process.stdout.write(`READY ${JSON.stringify({ late_before: result.late_only })}\n`);

  await lines.next();
  const began = Date.now();
  await page.waitForFunction(() => window.taktlineGantt.current.drawn.down.some((d) => d.resource === "crimp-02" && d.kind === "breakdown"),
    null, { timeout: 10000, polling: 50 });
  result.down_after_ms = Date.now() - began;
  now = await info(page);
  const block = now.drawn.down.find((d) => d.resource === "crimp-02" && d.kind === "breakdown");
  result.down = { ...block, label: now.label, x_of_start: await page.evaluate((t) => window.taktlineGantt.current.x(t), block.start) };
  // the hatched block: pixels of its colour (red) across a stripe of its row
  const reds = [];
  for (let dx = 8; dx < 40; dx += 2) reds.push(await pixel(page, block.x0 + dx, block.y + 4));
  result.down.red_pixels = reds.filter(([r, g, b]) => r > 200 && g < 170 && b < 170).length;

  // a late order, clicked on its bar: its chain and its cause beside the chart
  const fresh = await page.evaluate(() => fetch("/api/plan").then((r) => r.json()));
  const late = fresh.orders.filter((o) => o.status === "late" && (o.cause || "").includes("crimp-02"));
  result.late_orders = late.map((o) => o.order);
  let label = null;
  // A plan pushed meanwhile may lay the chart out anew: the label is looked up on the chart as
  // drawn just before the click, and clicked again (up to three times) until it is selected.
  for (let attempt = 0; attempt < 3; attempt++) {
    now = await info(page);
    label = null;
    for (const o of late) {
      label = now.drawn.labels.find((l) => l.order === o.order);
      if (label) break;
    }
    if (!label) break;
    const chosen = label.order;
    await page.mouse.click(box.x + label.x + 6, box.y + label.y + now.row / 2);
    const selected = await page.waitForFunction((id) => window.taktlineGantt.current.selected === id,
      chosen, { timeout: 3000, polling: 50 }).then(() => true, () => false);
    if (selected) break;
  }
  result.clicked = label && label.order;
  if (label) {
    await page.locator("#order-causes .cause").waitFor({ timeout: 20000 });
    result.panel = await page.locator("#order-panel").innerText();
    result.selected = (await info(page)).selected;
  }
  await page.screenshot({ path: join(shots, "plan-gantt.png"), fullPage: true });
  result.errors = errors;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(result) + "\n");
