import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import type { StoredMessage } from "../../shared/schemas.js";
import {
  composer,
  makePng,
  messageLog,
  useBrowser,
  registerThroughUi,
  screenshot,
  sendThroughUi,
  type PageOptions,
  type UserPage,
} from "../support/browser.js";
import { PUSH_KEY, connect, ok, signToken, startServer, type TestServer } from "../support/harness.js";

const openInBrowser = useBrowser();

function open(server: TestServer, options?: PageOptions): Promise<UserPage> {
  return openInBrowser(server.url, options);
}

/** Opens a page and registers `username` through the sign-in screen. */
async function user(server: TestServer, username: string, options?: PageOptions): Promise<Page> {
  const { page } = await open(server, options);
  await registerThroughUi(page, username);
  return page;
}

const member = (page: Page, name: string, state: "online" | "offline") =>
  page.getByRole("complementary").getByRole("button", { name: `Message ${name}, ${state}`, exact: true });

const sidebarItem = (page: Page, name: string | RegExp) =>
  page.getByRole("navigation", { name: "Conversations" }).getByRole("button", { name, exact: true });

const lobbyText = (content: string) => ({ messageType: "group", mediaType: "text", to: "lobby", content }) as const;

/** The text of every message bubble in the open conversation, in order. */
const bubbles = (page: Page) => messageLog(page).locator(".bubble, .system-text").allInnerTexts();

describe("web client", { timeout: 45_000 }, () => {
  it("lets two users register, see each other come online, and exchange lobby and direct messages a third never sees", async () => {
    const server = await startServer();
    const alice = await user(server, "alice");
    const bob = await user(server, "bob");
    await member(alice, "bob", "online").waitFor();
    await messageLog(alice).getByText("bob is online").waitFor();
    await member(bob, "alice", "online").waitFor();

    await sendThroughUi(alice, "Hello from alice");
    await messageLog(bob).getByText("Hello from alice").waitFor();
    // Shift+Enter starts a new line; Enter sends.
    await composer(alice).fill("line one");
    await composer(alice).press("Shift+Enter");
    await composer(alice).pressSequentially("line two");
    await composer(alice).press("Enter");
    await messageLog(bob).getByText("line two").waitFor();
    expect(await bubbles(bob)).toContain("line one\nline two");

    await member(bob, "alice", "online").click();
    await bob.getByRole("heading", { level: 1, name: "alice" }).waitFor();
    await sendThroughUi(bob, "psst, just for you");
    await sidebarItem(alice, "bob, online, 1 unread").click();
    await messageLog(alice).getByText("psst, just for you").waitFor();
    await sidebarItem(alice, "bob, online").waitFor();
    await sendThroughUi(alice, "got it, thanks!");
    await messageLog(bob).getByText("got it, thanks!").waitFor();
    await screenshot(alice, "desktop-direct-message");

    const carol = await user(server, "carol");
    await messageLog(carol).getByText("Hello from alice").waitFor();
    await member(carol, "alice", "online").click();
    await carol.getByRole("heading", { level: 1, name: "alice" }).waitFor();
    await messageLog(carol).getByText("No messages yet").waitFor();
    // Delivered in order: once the lobby's newest message reached carol, the direct one never will.
    await sidebarItem(carol, "Lobby").click();
    await sidebarItem(alice, "Lobby").click();
    await sendThroughUi(alice, "one more for everyone");
    await messageLog(carol).getByText("one more for everyone").waitFor();
    expect(await carol.getByText("psst, just for you").count()).toBe(0);
    expect(await carol.getByText("got it, thanks!").count()).toBe(0);
    await screenshot(alice, "desktop-lobby");
  });

  it("shows uploaded and dropped PNGs inline for the other user with upload progress, a file as a named download link, and keeps history across a reload", async () => {
    const server = await startServer();
    const alice = await user(server, "alice");
    const bob = await user(server, "bob");
    await sendThroughUi(alice, "Here is the logo:");
    await alice
      .locator('input[type="file"]')
      .setInputFiles({ name: "logo.png", mimeType: "image/png", buffer: makePng(240, 160) });
    const image = messageLog(bob).getByRole("img", { name: "Image from alice" });
    await image.waitFor();
    await expect.poll(() => image.evaluate((img) => (img as { naturalWidth: number }).naturalWidth)).toBe(240);

    await alice.locator('input[type="file"]').setInputFiles({
      name: "notes.txt",
      mimeType: "text/plain",
      buffer: Buffer.from("meeting notes\n".repeat(100)),
    });
    await messageLog(bob).getByRole("link", { name: "Download notes.txt, 1.4 KB" }).waitFor();
    await messageLog(alice).getByRole("link", { name: "Download notes.txt, 1.4 KB" }).waitFor();

    // A dropped image uploads too, with a progress bar while the (throttled) upload runs.
    const cdp = await alice.context().newCDPSession(alice);
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 256 * 1024,
    });
    const dropped = makePng(400, 300, [22, 163, 74], [250, 204, 21]);
    const transfer = await alice.evaluateHandle(`(() => {
      const bytes = Uint8Array.from(atob("${dropped.toString("base64")}"), (c) => c.charCodeAt(0));
      const padding = new Uint8Array(384 * 1024);
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes, padding], "dropped.png", { type: "image/png" }));
      return transfer;
    })()`);
    await alice.getByRole("main").dispatchEvent("drop", { dataTransfer: transfer });
    await alice.getByRole("progressbar", { name: "Uploading dropped.png" }).waitFor();
    const droppedImage = messageLog(bob).getByRole("img", { name: "Image from alice" }).nth(1);
    await expect.poll(() => droppedImage.evaluate((img) => (img as { naturalWidth: number }).naturalWidth)).toBe(400);
    await cdp.detach();
    await screenshot(bob, "desktop-image-and-file");

    await bob.reload();
    await bob.getByRole("heading", { level: 1, name: "Lobby" }).waitFor();
    await messageLog(bob).getByText("Here is the logo:").waitFor();
    await messageLog(bob).getByRole("link", { name: "Download notes.txt, 1.4 KB" }).waitFor();
    expect(await messageLog(bob).getByRole("img", { name: "Image from alice" }).count()).toBe(2);
  });

  it("renders hostile names, room names, messages and file names literally and never opens a dialog", async () => {
    const hostile = ["<img src=x onerror=alert(1)>", '"><script>alert(1)</script>', "[x](javascript:alert(1))"];
    const server = await startServer();
    const alice = await user(server, "alice");
    // Built-in accounts only allow plain names; an external issuer's token may carry any display name.
    const mallory = (
      await open(server, {
        session: { token: signToken("mallory", { name: hostile[0] }), user: { id: "mallory", name: hostile[0]! } },
      })
    ).page;
    await mallory.getByRole("heading", { level: 1, name: "Lobby" }).waitFor();
    for (const text of hostile) await sendThroughUi(mallory, text);
    await mallory.getByRole("button", { name: "Create a room" }).click();
    await mallory.getByLabel("Room name").fill(hostile[1]!);
    await mallory.getByRole("button", { name: "Create room" }).click();
    await mallory.getByRole("heading", { level: 1, name: hostile[1] }).waitFor();
    await mallory.locator('input[type="file"]').setInputFiles({
      name: `${hostile[0]}.txt`,
      mimeType: "text/plain",
      buffer: Buffer.from("hello"),
    });
    await messageLog(mallory)
      .getByRole("link", { name: `Download ${hostile[0]}.txt, 5 B` })
      .waitFor();

    for (const text of hostile) await messageLog(alice).locator(".bubble").getByText(text, { exact: true }).waitFor();
    await member(alice, hostile[0]!, "online").waitFor();
    await messageLog(alice).locator(".msg-author", { hasText: hostile[0] }).first().waitFor();
    await alice.getByRole("button", { name: "Browse rooms" }).click();
    await alice.getByRole("dialog").getByText(hostile[1]!, { exact: true }).waitFor();
    await alice.getByRole("button", { name: `Join ${hostile[1]}` }).click();
    await alice.getByRole("heading", { level: 1, name: hostile[1] }).waitFor();
    await messageLog(alice)
      .getByRole("link", { name: `Download ${hostile[0]}.txt, 5 B` })
      .waitFor();

    for (const page of [alice, mallory]) {
      expect(await page.locator('img[src="x"], script:not([src]), a[href^="javascript:"], [onerror]').count()).toBe(0);
    }
    await screenshot(alice, "desktop-hostile-text");
  });

  it("shows reconnecting while the server restarts, then the messages sent meanwhile, in order", async () => {
    const first = await startServer();
    const port = new URL(first.url).port;
    const { context, page: alice } = await open(first);
    await registerThroughUi(alice, "alice");
    await sendThroughUi(alice, "before the restart");
    await messageLog(alice).getByText("before the restart").waitFor();

    await first.stop();
    const banner = alice.getByRole("status").filter({ hasText: /Reconnecting/ });
    await banner.waitFor();
    // Keep the page away while messages are sent, so they can only arrive through catch-up.
    await context.setOffline(true);
    const second = await startServer({ PORT: port }, first.config.dataDir);
    expect(second.url).toBe(first.url);
    const bob = await connect(second, "bob");
    const sent: StoredMessage[] = [];
    for (const content of ["missed one", "missed two", "missed three"]) {
      sent.push(await ok(bob.socket, "message:send", lobbyText(content)));
    }
    await ok(bob.socket, "message:send", {
      messageType: "single",
      mediaType: "text",
      to: "alice",
      content: "a direct one",
    });
    const pushed = await fetch(`${second.url}/api/push`, {
      method: "POST",
      headers: { Authorization: `Bearer ${PUSH_KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify({ to: { user: "alice" }, content: "Maintenance finished." }),
    });
    expect(pushed.status).toBe(202);
    await screenshot(alice, "desktop-reconnecting");
    await context.setOffline(false);

    await messageLog(alice).getByText("missed three").waitFor();
    await alice.getByRole("status").filter({ hasText: "Back online" }).waitFor();
    const texts = await bubbles(alice);
    expect(texts.slice(texts.indexOf("before the restart"))).toEqual([
      "before the restart",
      "missed one",
      "missed two",
      "missed three",
    ]);
    await sidebarItem(alice, /^bob, (online|offline), 1 unread$/).waitFor();
    await sidebarItem(alice, "System, 1 unread").click();
    await messageLog(alice).locator(".system-card", { hasText: "Maintenance finished." }).waitFor();
    expect(await composer(alice).isDisabled()).toBe(true);
  });

  it("loads older history page by page when scrolled up, and stays at the bottom for new messages unless scrolled up", async () => {
    const server = await startServer();
    const bob = await connect(server, "bob");
    for (let i = 1; i <= 120; i += 1) await ok(bob.socket, "message:send", lobbyText(`message ${i}`));
    const alice = await user(server, "alice");
    const log = messageLog(alice);
    await log.getByText("message 120", { exact: true }).waitFor();
    expect(await log.getByText("message 1", { exact: true }).count()).toBe(0);

    const scroller = alice.locator(".scroller");
    await expect
      .poll(
        async () => {
          await scroller.evaluate((element) => element.scrollTo(0, 0));
          return log.getByText("message 1", { exact: true }).count();
        },
        { timeout: 10_000, interval: 200 },
      )
      .toBe(1);
    await log.getByText("This is the beginning of the conversation.").waitFor();
    expect(await log.locator(".msg").count()).toBe(120);

    // Scrolled up: a new message does not move the view; a button offers to jump down.
    await scroller.evaluate((element) => element.scrollTo(0, 0));
    await ok(bob.socket, "message:send", lobbyText("while scrolled up"));
    await alice.getByRole("button", { name: "New messages" }).waitFor();
    expect(await scroller.evaluate((element) => element.scrollTop)).toBeLessThan(300);
    await alice.getByRole("button", { name: "New messages" }).click();
    // At the bottom: new messages keep it there.
    await ok(bob.socket, "message:send", lobbyText("pinned to the bottom"));
    await log.getByText("pinned to the bottom").waitFor();
    await expect
      .poll(() => scroller.evaluate((element) => element.scrollHeight - element.scrollTop - element.clientHeight))
      .toBeLessThan(2);
  });

  it("counts unread messages per room since last viewed, and creates, joins, invites to and leaves rooms", async () => {
    const server = await startServer();
    const alice = await user(server, "alice");
    const bob = await user(server, "bob");

    await alice.getByRole("button", { name: "Create a room" }).click();
    await alice.getByLabel("Room name").fill("design");
    await alice.getByRole("button", { name: "Create room" }).click();
    await alice.getByRole("heading", { level: 1, name: "design" }).waitFor();
    await bob.getByRole("button", { name: "Browse rooms" }).click();
    await bob.getByRole("button", { name: "Join design" }).click();
    await bob.getByRole("heading", { level: 1, name: "design" }).waitFor();

    await sidebarItem(alice, "Lobby").click();
    await sendThroughUi(bob, "first in design");
    await sendThroughUi(bob, "second in design");
    await sidebarItem(alice, "design, 2 unread").click();
    await messageLog(alice).getByText("second in design").waitFor();
    await sidebarItem(alice, "design").waitFor();

    await alice.getByRole("button", { name: "Create a room" }).click();
    await alice.getByLabel("Room name").fill("secret");
    await alice.getByText("Private", { exact: true }).click();
    await alice.getByRole("button", { name: "Create room" }).click();
    await alice.getByRole("heading", { level: 1, name: "secret" }).waitFor();
    await alice.getByRole("button", { name: "Invite" }).click();
    await alice.getByLabel("Username").fill("bob");
    await alice.getByRole("button", { name: "Send invitation" }).click();
    await alice.getByText("Invitation sent to bob.").waitFor();
    await screenshot(bob, "desktop-invitation");

    const invitation = bob.getByRole("navigation").locator(".invite", { hasText: "secret" });
    await invitation.getByRole("button", { name: "Accept" }).click();
    await bob.getByRole("heading", { level: 1, name: "secret" }).waitFor();
    await bob.getByText("Private room · 2 members").waitFor();
    await bob.getByRole("button", { name: "Leave" }).click();
    await bob.getByRole("button", { name: "Leave room" }).click();
    await bob.getByRole("heading", { level: 1, name: "Lobby" }).waitFor();
    expect(await sidebarItem(bob, /secret/).count()).toBe(0);
  });

  it("fits a phone: the conversation fills the screen, with a back button to the list and a members drawer", async () => {
    const server = await startServer();
    const bob = await user(server, "bob");
    const phone = { viewport: { width: 390, height: 780 }, mobile: true };
    const alice = await user(server, "alice", phone);
    await sendThroughUi(bob, "Are you on your phone?");
    await sendThroughUi(alice, "Yes, and typing on a phone works too.");
    await messageLog(alice).getByText("Are you on your phone?").waitFor();
    await messageLog(alice).getByText("Yes, and typing on a phone works too.").waitFor();
    expect(await alice.getByRole("navigation", { name: "Conversations" }).isVisible()).toBe(false);
    const width = await alice.locator("html").evaluate((html) => html.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    await screenshot(alice, "phone-chat");

    await alice.getByRole("button", { name: "Members" }).click();
    await member(alice, "bob", "online").waitFor();
    await screenshot(alice, "phone-members");
    await alice.getByRole("button", { name: "Close members" }).click();

    await alice.getByRole("button", { name: "All conversations" }).click();
    await alice.getByRole("navigation", { name: "Conversations" }).waitFor();
    expect(await alice.getByRole("main").isVisible()).toBe(false);
    await screenshot(alice, "phone-conversations");
    await sidebarItem(alice, "Lobby").click();
    await alice.getByRole("heading", { level: 1, name: "Lobby" }).waitFor();
  });

  it("signs in again after logging out, from the sign-in screen", async () => {
    const server = await startServer();
    const { page } = await open(server);
    await screenshot(page, "sign-in");
    await registerThroughUi(page, "alice");
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByLabel("Password").fill("wrong password");
    await page.getByLabel("Username").fill("alice");
    await page.getByLabel("Password").press("Enter");
    await page.getByRole("alert").getByText("Wrong username or password.").waitFor();
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByLabel("Password").press("Enter");
    await page.getByRole("heading", { level: 1, name: "Lobby" }).waitFor();
  });
});
