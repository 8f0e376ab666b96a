import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { messageLog, screenshot, useBrowser } from "../support/browser.js";
import { connect, ok, signToken, startServer, type TestServer } from "../support/harness.js";

// Issue 14: a room fed by a worker or the push API reads as a log (compact, windowed, following the tail).

const openInBrowser = useBrowser();

const ROOM = "task:build";
const line = (n: number, total: number) => `[build] step ${n}/${total} ok`;

/**
 * A room created by the system user (as the task-logs example's rooms are) holding `count` system lines, one a
 * second up to now, written straight to the store: quicker than delivering each.
 */
async function logRoom(server: TestServer, count: number): Promise<void> {
  const { store, rooms } = server.server;
  await rooms.create("system", "build logs", "public", ROOM);
  const start = Date.now() - count * 1000;
  for (let from = 1; from <= count; from += 500) {
    const batch = Array.from({ length: Math.min(500, count - from + 1) }, (_, i) => from + i);
    // Appended in call order, so ids follow the line numbers.
    await Promise.all(
      batch.map((n) =>
        store.appendMessage({
          messageType: "system",
          mediaType: "text",
          from: "system",
          to: ROOM,
          conversation: `r:${ROOM}`,
          recipientUser: null,
          content: line(n, count),
          createAt: start + n * 1000,
        }),
      ),
    );
  }
}

/** Alice, a member of the log room, with it open in the web client. */
async function openLogRoom(server: TestServer): Promise<Page> {
  const alice = await connect(server, "alice");
  await ok(alice.socket, "room:join", { roomId: ROOM });
  alice.socket.disconnect();
  const { page } = await openInBrowser(server.url, {
    session: { token: signToken("alice"), user: { id: "alice", name: "alice" } },
  });
  await page.getByRole("heading", { level: 1, name: "Lobby" }).waitFor();
  await page
    .getByRole("navigation", { name: "Conversations" })
    .getByRole("button", { name: /^build logs/ })
    .click();
  await page.getByRole("heading", { level: 1, name: "build logs" }).waitFor();
  return page;
}

const logLine = (page: Page, text: string) => messageLog(page).locator("li.log-line", { hasText: text });
const jumpButton = (page: Page) => page.getByRole("button", { name: /^Jump to latest/ });

/** Whether the line is in the DOM and wholly inside the log's viewport. */
async function inView(page: Page, text: string): Promise<boolean> {
  // Windowed: a line far from the viewport is not in the DOM at all.
  if ((await logLine(page, text).count()) === 0) return false;
  const row = await logLine(page, text).boundingBox();
  const view = await messageLog(page).boundingBox();
  return row !== null && view !== null && row.y >= view.y - 1 && row.y + row.height <= view.y + view.height + 1;
}

/** Waits until the line is in view (not a sleep: polls the DOM until it holds, failing after `ms`). */
async function waitInView(page: Page, text: string, ms = 10_000): Promise<void> {
  await logLine(page, text).waitFor({ timeout: ms });
  await expect.poll(() => inView(page, text), { timeout: ms }).toBe(true);
}

const scrollState = (page: Page) =>
  messageLog(page).evaluate((element) => ({
    top: element.scrollTop,
    height: element.scrollHeight,
    fromBottom: element.scrollHeight - element.scrollTop - element.clientHeight,
  }));

describe("a room whose messages come from a worker renders as a log", { timeout: 90_000 }, () => {
  it("shows a room of 10,000 system lines as monospace lines with timestamps, the last one in view, with fewer than 500 rows in the DOM", async () => {
    const server = await startServer();
    await logRoom(server, 10_000);
    const page = await openLogRoom(server);

    await waitInView(page, line(10_000, 10_000));
    const last = logLine(page, line(10_000, 10_000));
    expect(await last.locator("time").innerText()).toMatch(/^\d\d:\d\d:\d\d$/);
    expect(
      await last.evaluate((element) => element.ownerDocument.defaultView?.getComputedStyle(element).fontFamily),
    ).toMatch(/monospace/);
    // No pills, no avatars, compact rows.
    expect(await messageLog(page).locator(".system-card, .avatar").count()).toBe(0);
    expect((await last.boundingBox())!.height).toBeLessThanOrEqual(24);
    await screenshot(page, "desktop-log-room");

    // Thousands of lines in the client (1,000 arriving live on top of the loaded pages): the DOM holds a window.
    for (let n = 1; n <= 1000; n += 1) await server.server.hub.sendToRoom(ROOM, `live ${n}`);
    await waitInView(page, "live 1000", 30_000);
    const rows = await messageLog(page).locator("li").count();
    expect(rows).toBeGreaterThan(0);
    expect(rows).toBeLessThan(500);
    // The scroll height still spans every line: the rest are spacers.
    expect((await scrollState(page)).height).toBeGreaterThanOrEqual(1000 * 20);
  });

  it("follows the tail while at the bottom, stays put when scrolled up, and jumps to the latest line on request", async () => {
    const server = await startServer();
    await logRoom(server, 100);
    const page = await openLogRoom(server);
    await waitInView(page, line(100, 100));

    for (let n = 1; n <= 40; n += 1) await server.server.hub.sendToRoom(ROOM, `live ${n}`);
    await waitInView(page, "live 40");
    expect((await scrollState(page)).fromBottom).toBeLessThan(2);

    // The reader scrolls up (not so far that older history loads).
    await messageLog(page).evaluate((element) => {
      element.scrollTop = element.scrollHeight - element.clientHeight - 600;
    });
    await expect.poll(() => inView(page, "live 40")).toBe(false);
    const before = await scrollState(page);
    expect(await jumpButton(page).isVisible()).toBe(false);

    for (let n = 1; n <= 5; n += 1) await server.server.hub.sendToRoom(ROOM, `later ${n}`);
    await jumpButton(page).filter({ hasText: "5 new lines" }).waitFor();
    const after = await scrollState(page);
    expect(after.top).toBe(before.top);
    expect(after.height).toBeGreaterThan(before.height);
    expect(await inView(page, "later 5")).toBe(false);

    await jumpButton(page).click();
    await waitInView(page, "later 5");
    await jumpButton(page).waitFor({ state: "hidden" });
    // Back at the bottom, it follows again.
    await server.server.hub.sendToRoom(ROOM, "later 6");
    await waitInView(page, "later 6");
  });

  it("loads older lines when scrolled to the top and keeps the lines in view where they were", async () => {
    const server = await startServer();
    await logRoom(server, 10_000);
    const page = await openLogRoom(server);
    await waitInView(page, line(10_000, 10_000));
    // Only the newest pages are loaded.
    expect(await logLine(page, line(9800, 10_000)).count()).toBe(0);

    // Scrolled to the top, again after each page, until three more pages (50 lines each) came in.
    await expect
      .poll(
        async () => {
          await messageLog(page).evaluate((element) => element.scrollTo(0, 0));
          return logLine(page, line(9800, 10_000)).count();
        },
        { timeout: 30_000, interval: 200 },
      )
      .toBe(1);
    // Each page kept the reader's place: the newest line is far below, out of view.
    expect(await inView(page, line(10_000, 10_000))).toBe(false);
    expect(await messageLog(page).locator("li").count()).toBeLessThan(500);
  });
});
