// Drives headless Chromium for bench/ui_render.py: the Plan page's Gantt, today's and the one
// kept as a fixture (bench/fixtures/gantt_before.js/.css served in place of plan.js/plan.css,
// gantt*.js left out), against the same server and plan. Per variant: first render (navigation
// start to the chart drawn and the next frame painted) and the time of each pan frame.
// Usage: node ui_render.mjs BASE_URL FIXTURES_DIR PANS RUNS  -> one JSON line on stdout
import { createRequire } from "node:module";
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "..", "tests", "browser", "package.json"));
const { chromium } = require("playwright-core");
const [base, fixtures, pansArg, runsArg] = process.argv.slice(2);
const pans = Number(pansArg), runs = Number(runsArg);
const root = base.replace(/\/$/, "");
const before = {
  js: readFileSync(join(fixtures, "gantt_before.js"), "utf8"),
  css: readFileSync(join(fixtures, "gantt_before.css"), "utf8"),
};
const profile = mkdtempSync(join(tmpdir(), "taktline-bench-"));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
const out = { after: { first: [], pan: [] }, before: { first: [], pan: [] }, errors: [] };

// The next frame painted: a task after the next animation frame.
const painted = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));

async function page(variant) {
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  const p = await context.newPage();
  p.on("pageerror", (err) => out.errors.push(`${variant}: ${err}`));
  // the same window for both: 24 h (each keeps its zoom in localStorage)
  await context.addInitScript(() => {
    localStorage.setItem("taktline-span", "24");
    localStorage.setItem("taktline-span-ms", String(24 * 3600000));
  });
  if (variant === "before") {
    await p.route("**/static/plan.js", (r) => r.fulfill({ contentType: "text/javascript", body: before.js }));
    await p.route("**/static/plan.css", (r) => r.fulfill({ contentType: "text/css", body: before.css }));
    await p.route("**/static/gantt*.js", (r) => r.fulfill({ contentType: "text/javascript", body: "" }));
  }
  return [context, p];
}

async function firstRender(variant) {
  const [context, p] = await page(variant);
  await p.goto(`${root}/plan`);
  await p.waitForFunction(() => (document.body.dataset.rendered || "").startsWith("plan-"), null, { timeout: 120000, polling: 5 });
  const ms = await p.evaluate(async (src) => { await eval(src)(); return performance.now(); }, `(${painted})`);
  return [context, p, ms];
}

try {
  for (const variant of ["after", "before"]) {  // warm-up: caches and compiled code, not measured
    const [context] = await firstRender(variant);
    await context.close();
  }
  for (let run = 0; run < runs; run += 1) {
    for (const variant of ["after", "before"]) {
      const [context, p, ms] = await firstRender(variant);
      out[variant].first.push(ms);
      if (run === runs - 1) {
        if (variant === "after") {
          // a drag: each frame moves the window and draws it (the canvas flushed by a read-back)
          out.after.pan = await p.evaluate(async (n) => {
            const chart = window.taktlineGantt.current;
            const times = [];
            for (let i = 0; i < n; i += 1) {
              const began = performance.now();
              chart.panBy(i % 40 < 20 ? -24 : 24, i % 10 < 5 ? 6 : -6);
              chart.draw();
              chart.ctx.getImageData(0, 0, 1, 1);
              times.push(performance.now() - began);
              await new Promise((r) => requestAnimationFrame(r));
            }
            return times;
          }, pans);
          out.after.info = await p.evaluate(() => {
            const i = window.taktlineGantt.current.info();
            return { bars: Object.values(i.bars).reduce((a, b) => a + b, 0), drawn: i.drawn.bars, span_h: i.span / 3600000 };
          });
        } else {
          // today's pan: the ▶ button redraws the page for the next window
          out.before.pan = await p.evaluate(async ([n, src]) => {
            const frame = eval(src);
            const times = [];
            for (let i = 0; i < n; i += 1) {
              const old = document.querySelector(".gantt");
              const replaced = new Promise((r) => {
                const watch = new MutationObserver(() => {
                  if (document.querySelector(".gantt") !== old) { watch.disconnect(); r(); }
                });
                watch.observe(document.getElementById("view"), { childList: true });
                setTimeout(() => r(), 60000);  // never for ever: the figure shows it
              });
              const began = performance.now();
              document.querySelectorAll("button.shift")[i % 2 ? 0 : 2].click();  // ▶, then ◀
              await replaced;
              void document.body.offsetHeight;  // its layout
              await frame();
              times.push(performance.now() - began);
            }
            return times;
          }, [Math.min(pans, 12), `(${painted})`]);
          out.before.info = await p.evaluate(() => ({ drawn: document.querySelectorAll(".gantt .bar").length }));
        }
      }
      await context.close();
    }
  }
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(out) + "\n");
