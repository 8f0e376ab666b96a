import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { composer, messageLog, untilInPage, useBrowser } from "../support/browser.js";
import { connect, ok, signToken, startServer, type TestServer } from "../support/harness.js";

// Issue 14: notifications and mentions (tab title and favicon, desktop notifications, mute, @mentions).

const openInBrowser = useBrowser();

/**
 * Records every `new Notification(...)` (title, body, the object, still shown for real) and every
 * `Notification.requestPermission()` call. A script string: this file is compiled without the DOM library.
 */
const RECORDER = `
  window.__notifications = [];
  window.__permissionRequests = 0;
  const Original = window.Notification;
  class Recorded extends Original {
    constructor(title, options) {
      super(title, options);
      window.__notifications.push({ title, body: (options && options.body) || "", notification: this });
    }
  }
  Object.defineProperty(Recorded, "permission", { get: () => Original.permission });
  Recorded.requestPermission = (...args) => {
    window.__permissionRequests += 1;
    return Original.requestPermission(...args);
  };
  window.Notification = Recorded;
`;

/** Opens the web client signed in as `id`, with notifications recorded (and allowed, if `allow`). */
async function user(server: TestServer, id: string, allow = true): Promise<Page> {
  const { context, page } = await openInBrowser(server.url, {
    session: { token: signToken(id), user: { id, name: id } },
  });
  if (allow) await context.grantPermissions(["notifications"], { origin: new URL(server.url).origin });
  await page.addInitScript({ content: RECORDER });
  await page.reload();
  await page.getByRole("heading", { level: 1, name: "Lobby" }).waitFor();
  return page;
}

/** Pretends the tab is in the background (or back in front), as the Page Visibility API reports it. */
async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate(`
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => ${hidden ? '"hidden"' : '"visible"'} });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => ${hidden} });
    document.dispatchEvent(new Event("visibilitychange"));
  `);
}

const notifications = (page: Page) =>
  page.evaluate("window.__notifications.map(({ title, body }) => ({ title, body }))") as Promise<
    { title: string; body: string }[]
  >;

const sidebarItem = (page: Page, name: string | RegExp) =>
  page.getByRole("navigation", { name: "Conversations" }).getByRole("button", { name, exact: true });

const direct = (from: Awaited<ReturnType<typeof connect>>, to: string, content: string) =>
  ok(from.socket, "message:send", { messageType: "single", mediaType: "text", to, content });

/** Opens the profile and settings dialog, where the notification choices are. */
async function openSettings(page: Page) {
  await page.getByRole("button", { name: /^Profile and settings/ }).click();
  const dialog = page.getByRole("dialog", { name: "Profile and settings" });
  await dialog.getByRole("button", { name: "Save" }).and(dialog.locator(":enabled")).waitFor();
  return dialog;
}

async function turnOnNotifications(page: Page): Promise<void> {
  const dialog = await openSettings(page);
  await dialog.getByRole("checkbox", { name: /^Desktop notifications/ }).check();
  await dialog.getByRole("button", { name: "Save" }).click();
  await dialog.waitFor({ state: "detached" });
  const again = await openSettings(page);
  expect(await again.getByRole("checkbox", { name: /^Desktop notifications/ }).isChecked()).toBe(true);
  await page.keyboard.press("Escape");
  await again.waitFor({ state: "detached" });
}

async function mute(page: Page, conversation: string): Promise<void> {
  await sidebarItem(page, new RegExp(`^${conversation},`)).click();
  await page.getByRole("heading", { level: 1, name: conversation }).waitFor();
  await page.getByRole("button", { name: "Mute", exact: true }).click();
  await page.getByRole("button", { name: "Mute", pressed: true }).waitFor();
}

describe("notifications and mentions", { timeout: 60_000 }, () => {
  it("shows a desktop notification for a direct message while the page is hidden, none for a muted conversation or a visible page, and opens the conversation on click", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const carol = await connect(server, "carol");
    const bob = await user(server, "bob");
    await turnOnNotifications(bob);

    await setHidden(bob, true);
    await direct(alice, "bob", "psst");
    await untilInPage(bob, "window.__notifications.length === 1");
    expect(await notifications(bob)).toEqual([{ title: "alice", body: "psst" }]);

    // Muted: the message is counted in the sidebar but gives no notification.
    await setHidden(bob, false);
    await mute(bob, "alice");
    await sidebarItem(bob, /^Lobby/).click();
    await setHidden(bob, true);
    await direct(alice, "bob", "still there?");
    await sidebarItem(bob, "alice, online, 1 unread, muted").waitFor();

    // Visible: no notification either.
    await setHidden(bob, false);
    await direct(carol, "bob", "hello from carol");
    await sidebarItem(bob, "carol, online, 1 unread").waitFor();
    expect(await notifications(bob)).toEqual([{ title: "alice", body: "psst" }]);

    await setHidden(bob, true);
    await direct(carol, "bob", "are you there?");
    await untilInPage(bob, "window.__notifications.length === 2");
    expect((await notifications(bob))[1]).toEqual({ title: "carol", body: "are you there?" });
    await bob.evaluate("window.__notifications[1].notification.onclick(new Event('click'))");
    await bob.getByRole("heading", { level: 1, name: "carol" }).waitFor();
    await messageLog(bob).getByText("are you there?").waitFor();
  });

  it("shows the unread count in the tab title and favicon, leaves muted conversations out, and clears it when the conversation is opened", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const carol = await connect(server, "carol");
    const bob = await user(server, "bob");
    expect(await bob.title()).toBe("Chat");

    await direct(alice, "bob", "one");
    await direct(alice, "bob", "two");
    await untilInPage(bob, 'document.title === "(2) Chat"');
    expect(await bob.locator('link[rel="icon"]').getAttribute("href")).toMatch(/^data:image\/png;base64,/);

    await sidebarItem(bob, "alice, online, 2 unread").click();
    await untilInPage(bob, 'document.title === "Chat"');

    // A muted conversation's count stays in the sidebar only.
    await mute(bob, "alice");
    await sidebarItem(bob, /^Lobby/).click();
    await direct(alice, "bob", "three");
    await sidebarItem(bob, "alice, online, 1 unread, muted").waitFor();
    await direct(carol, "bob", "four");
    await sidebarItem(bob, "carol, online, 1 unread").waitFor();
    await untilInPage(bob, 'document.title === "(1) Chat"');
  });

  it("autocompletes a mention in the composer, highlights it for the mentioned user and marks their sidebar badge with @", async () => {
    const server = await startServer();
    const bob = await user(server, "bob");
    const alice = await user(server, "alice");
    // Bob reads something else, so the lobby message arrives unread.
    await bob.getByRole("complementary").getByRole("button", { name: "Message alice, online", exact: true }).click();
    await bob.getByRole("heading", { level: 1, name: "alice" }).waitFor();

    await alice.getByRole("complementary").getByRole("button", { name: "Message bob, online", exact: true }).waitFor();
    await composer(alice).pressSequentially("look here @b");
    const option = alice.getByRole("option", { name: "bob @bob" });
    await option.waitFor();
    expect(await option.getAttribute("aria-selected")).toBe("true");
    await composer(alice).press("Tab");
    expect(await composer(alice).inputValue()).toBe("look here @bob ");
    await composer(alice).pressSequentially("please");
    await composer(alice).press("Enter");
    await messageLog(alice).getByText("look here @bob please").waitFor();

    const lobby = sidebarItem(bob, "Lobby, 1 unread, mentioned");
    await lobby.waitFor();
    expect(await lobby.locator(".badge").innerText()).toBe("@ 1");
    // The mark is kept by the browser: still there after a reload.
    await bob.reload();
    await bob.getByRole("heading", { level: 1, name: "alice" }).waitFor();
    await lobby.waitFor();
    expect(await lobby.locator(".badge").innerText()).toBe("@ 1");
    await lobby.click();
    const mark = messageLog(bob).locator("mark.mention");
    await mark.waitFor();
    expect(await mark.innerText()).toBe("@bob");
    // Alice did not mention herself: nothing is highlighted on her side.
    expect(await messageLog(alice).locator("mark.mention").count()).toBe(0);
  });

  it("notifies of a mention in a muted room (mentions pierce mute) but not of its other messages", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await user(server, "bob");
    await turnOnNotifications(bob);
    await bob.getByRole("button", { name: "Mute", exact: true }).click();
    await bob.getByRole("button", { name: "Mute", pressed: true }).waitFor();
    await bob.getByRole("complementary").getByRole("button", { name: "Message alice, online", exact: true }).click();
    await bob.getByRole("heading", { level: 1, name: "alice" }).waitFor();
    await setHidden(bob, true);

    const say = (content: string) =>
      ok(alice.socket, "message:send", { messageType: "group", mediaType: "text", to: "lobby", content });
    await say("lunch anyone?");
    await sidebarItem(bob, "Lobby, 1 unread, muted").waitFor();
    await say("@bob you in?");
    await sidebarItem(bob, "Lobby, 2 unread, mentioned, muted").waitFor();
    expect(await notifications(bob)).toEqual([{ title: "alice mentioned you in #Lobby", body: "@bob you in?" }]);
    // Muted: the tab title leaves the room out, mention or not.
    expect(await bob.title()).toBe("Chat");
  });

  it("never asks for notification permission at load, only when notifications are turned on", async () => {
    const server = await startServer();
    const bob = await user(server, "bob", false);
    const dialog = await openSettings(bob);
    expect(await bob.evaluate("window.__permissionRequests")).toBe(0);
    expect(await bob.evaluate("Notification.permission")).toBe("default");
    await dialog.getByRole("checkbox", { name: /^Desktop notifications/ }).check();
    await dialog.getByRole("button", { name: "Save" }).click();
    await untilInPage(bob, "window.__permissionRequests === 1");
  });
});
