import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import type { User } from "../../shared/schemas.js";
import { cleanup } from "./harness.js";

/** Debian's Chromium: `apt-get update && apt-get install -y chromium` (never `playwright install`). */
export const CHROMIUM = "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Launches Chromium; a missing browser fails the tests (it is never a reason to skip them). */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: run \`apt-get update && apt-get install -y chromium\``);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** One user's browser context and page, with everything that must never happen recorded. */
export interface UserPage {
  context: BrowserContext;
  page: Page;
  /** Messages of every alert/confirm/prompt the page opened (each is dismissed). */
  dialogs: string[];
  /** Uncaught page errors. */
  errors: string[];
  /** HTTP answers of 400 and above the page received (`status path`), which a browser logs as errors. */
  failed: string[];
}

/** What `openPage` can set up. */
export interface PageOptions {
  /** @default desktop, 1280×800 */
  viewport?: { width: number; height: number };
  /** Phone emulation (touch, mobile viewport meta). */
  mobile?: boolean;
  /** Signs in with this token and user before the page loads, as the web client keeps them. */
  session?: { token: string; user: User };
}

/** Opens the web client in a fresh context (its own storage: a separate user). */
export async function openPage(browser: Browser, url: string, options: PageOptions = {}): Promise<UserPage> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1280, height: 800 },
    isMobile: options.mobile ?? false,
    hasTouch: options.mobile ?? false,
    deviceScaleFactor: 1,
    reducedMotion: "reduce",
  });
  if (options.session) {
    // A script string: this file is compiled without the DOM library.
    await context.addInitScript({
      content: `sessionStorage.setItem("chat.session", ${JSON.stringify(JSON.stringify(options.session))});`,
    });
  }
  const page = await context.newPage();
  const opened: UserPage = { context, page, dialogs: [], errors: [], failed: [] };
  page.on("dialog", (dialog) => {
    opened.dialogs.push(dialog.message());
    void dialog.dismiss().catch(() => undefined);
  });
  page.on("pageerror", (error) => opened.errors.push(error.message));
  page.on("response", (response) => {
    if (response.status() >= 400) opened.failed.push(`${response.status()} ${new URL(response.url()).pathname}`);
  });
  await page.goto(url);
  return opened;
}

/** Creates an account through the sign-in screen and waits for the lobby. */
export async function registerThroughUi(
  page: Page,
  username: string,
  password = "correct horse battery",
): Promise<void> {
  await page.getByRole("group", { name: "Mode" }).getByRole("button", { name: "Create account" }).click();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByLabel("Password").press("Enter");
  await page.getByRole("heading", { level: 1, name: "Lobby" }).waitFor();
}

/** The message box of the open conversation. */
/**
 * Waits until `expression` is true in the page. Each check is its own `page.evaluate` (run through the DevTools
 * protocol, which the page's CSP allows): `page.waitForFunction` with a string compiles it in the page on
 * retries, which `script-src 'self'` refuses now and then ("Refused to evaluate a string as JavaScript").
 */
export async function untilInPage(page: Page, expression: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) throw new Error(`not true in the page within ${ms} ms: ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const composer = (page: Page) => page.getByRole("textbox", { name: /^Message / });

/** Types a message and presses Enter. */
export async function sendThroughUi(page: Page, text: string): Promise<void> {
  await composer(page).fill(text);
  await composer(page).press("Enter");
}

/** The message list of the open conversation. */
export const messageLog = (page: Page) => page.getByRole("log");

const SCREENSHOTS = fileURLToPath(new URL("../../docs/screenshots/", import.meta.url));

/**
 * Saves a screenshot to docs/screenshots/ when `UPDATE_SCREENSHOTS=1`; otherwise does nothing, so a test
 * run leaves the working tree alone.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.UPDATE_SCREENSHOTS !== "1") return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  // Let the last frame settle (fonts, the image that just loaded).
  await page.evaluate("new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))");
  await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, animations: "disabled", caret: "hide" });
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A real RGB PNG of `width`×`height`: a diagonal gradient between two colours. */
export function makePng(width: number, height: number, from = [79, 70, 229], to = [56, 189, 248]): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit depth, truecolour, deflate, no filter, no interlace
  const rows: Buffer[] = [];
  for (let y = 0; y < height; y += 1) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x += 1) {
      const t = (x + y) / (width + height - 2 || 1);
      for (let c = 0; c < 3; c += 1) row[1 + x * 3 + c] = Math.round(from[c]! + (to[c]! - from[c]!) * t);
    }
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/**
 * Sets up a test file's browser: one Chromium for the file; every page opened through the returned
 * function is closed after its test, and the test fails if any of those pages opened a dialog or threw.
 * @example const open = useBrowser(); const { page } = await open(server.url);
 */
export function useBrowser(): (url: string, options?: PageOptions) => Promise<UserPage> {
  let browser: Browser | undefined;
  const pages: UserPage[] = [];
  beforeAll(async () => {
    browser = await launchBrowser();
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    const opened = pages.splice(0);
    for (const { context } of opened) await context.close();
    await cleanup();
    // Nothing a page did may have opened a dialog or thrown.
    for (const { dialogs, errors } of opened) {
      expect(dialogs).toEqual([]);
      expect(errors).toEqual([]);
    }
  });
  return async (url, options) => {
    if (!browser) throw new Error("the browser is not launched yet: call the opener inside a test");
    const opened = await openPage(browser, url, options);
    pages.push(opened);
    return opened;
  };
}
