// Debian's Chromium, headless, through playwright-core, for the browser tests' drivers: one
// fresh profile per run (removed on close), and logging in through the login page with the
// name and password the test puts in the environment (TAKTLINE_USER, TAKTLINE_PASSWORD).
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function openChromium(viewport = { width: 1400, height: 900 }) {
  const profile = mkdtempSync(join(tmpdir(), "taktline-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
    viewport,
  });
  const page = context.pages()[0] || await context.newPage();
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, page, close };
}

export async function logIn(page, root, next) {
  await page.goto(`${root}/login?next=${next}`);
  await page.locator("#name").fill(process.env.TAKTLINE_USER);
  await page.locator("#password").fill(process.env.TAKTLINE_PASSWORD);
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith("/login")), page.locator("#login-form button").click()]);
}
