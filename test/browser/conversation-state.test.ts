import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import type { Receipt } from "../../shared/schemas.js";
import { composer, messageLog, screenshot, sendThroughUi, useBrowser } from "../support/browser.js";
import { connect, nextEvent, ok, signToken, startServer, type TestServer } from "../support/harness.js";

const openInBrowser = useBrowser();

/** Opens the web client signed in as `id` (a fresh browser: nothing remembered locally) and waits for the lobby. */
async function user(server: TestServer, id: string): Promise<Page> {
  const opened = await openInBrowser(server.url, { session: { token: signToken(id), user: { id, name: id } } });
  await opened.page.getByRole("heading", { level: 1, name: "Lobby" }).waitFor();
  return opened.page;
}

const sidebarItem = (page: Page, name: string | RegExp) =>
  page.getByRole("navigation", { name: "Conversations" }).getByRole("button", { name, exact: true });

const member = (page: Page, name: string) =>
  page.getByRole("complementary").getByRole("button", { name: `Message ${name}, online`, exact: true });

const messageItem = (page: Page, text: string) => messageLog(page).locator("li.msg", { hasText: text });

const lobbyText = (content: string) => ({ messageType: "group", mediaType: "text", to: "lobby", content }) as const;

describe("conversation state in the web client", { timeout: 45_000 }, () => {
  it("shows unread counts from the server in a fresh browser, updates them live, and clears them on the server when opened", async () => {
    const server = await startServer();
    const bob = await connect(server, "bob");
    // Alice exists (she connected once, elsewhere) but this browser has never seen her.
    (await connect(server, "alice")).socket.disconnect();
    const dm = await ok(bob.socket, "message:send", {
      messageType: "single",
      mediaType: "text",
      to: "alice",
      content: "sent before alice ever opened the app",
    });

    // Nothing in this browser knows about bob: the direct conversation and its count come from the server.
    const alice = await user(server, "alice");
    await sidebarItem(alice, "bob, online, 1 unread").waitFor();

    const receipt = nextEvent(bob.socket, "receipt");
    await sidebarItem(alice, "bob, online, 1 unread").click();
    await messageLog(alice).getByText("sent before alice ever opened the app").waitFor();
    await sidebarItem(alice, "bob, online").waitFor();
    expect(await receipt).toEqual({
      conversation: { user: "alice" },
      userId: "alice",
      lastReadId: dm.id,
    } satisfies Receipt);

    // Live: a lobby message while alice reads bob's conversation counts, and clears when she opens the lobby.
    await ok(bob.socket, "message:send", lobbyText("lobby news"));
    await sidebarItem(alice, "Lobby, 1 unread").waitFor();
    await sidebarItem(alice, "Lobby, 1 unread").click();
    await messageLog(alice).getByText("lobby news").waitFor();
    await sidebarItem(alice, "Lobby").waitFor();

    // Another fresh browser: both were read on the server, so no badge anywhere.
    const again = await user(server, "alice");
    await sidebarItem(again, "bob, online").waitFor();
    await sidebarItem(again, "Lobby").waitFor();
    expect(await again.locator(".conv .badge").count()).toBe(0);
  });

  it("shows who is typing in the open conversation and 'Seen by' under my last message once the other user opened it", async () => {
    const server = await startServer();
    const alice = await user(server, "alice");
    const bob = await user(server, "bob");
    await member(alice, "bob").click();
    await alice.getByRole("heading", { level: 1, name: "bob" }).waitFor();
    await sendThroughUi(alice, "are you there?");
    await messageLog(alice).getByText("are you there?").waitFor();
    // Bob has not opened it yet.
    await sidebarItem(bob, "alice, online, 1 unread").waitFor();
    expect(
      await messageLog(alice)
        .getByText(/^Seen by/)
        .count(),
    ).toBe(0);

    await sidebarItem(bob, "alice, online, 1 unread").click();
    await messageLog(bob).getByText("are you there?").waitFor();
    await messageLog(alice).getByText("Seen by bob", { exact: true }).waitFor();

    // Typing shows for alice while bob types, and goes when he empties the box.
    const typingLine = alice.getByText("bob is typing…", { exact: true });
    await composer(bob).pressSequentially("yes, I a");
    await typingLine.waitFor();
    await composer(bob).fill("");
    await typingLine.waitFor({ state: "detached" });
    // …and when he sends.
    await composer(bob).pressSequentially("yes!");
    await typingLine.waitFor();
    await screenshot(alice, "desktop-typing-seen");
    await composer(bob).press("Enter");
    await messageLog(alice).getByText("yes!", { exact: true }).waitFor();
    await typingLine.waitFor({ state: "detached" });
    // Bob wrote since: "Seen by" stays under alice's last message until he reads a newer one of hers.
    expect(await messageItem(alice, "are you there?").locator("xpath=following-sibling::li[1]").innerText()).toBe(
      "Seen by bob",
    );
  });

  it("keeps 'Seen by' after a reload (and in a room), read back from the server", async () => {
    const server = await startServer();
    const bob = await connect(server, "bob");
    const carol = await connect(server, "carol");
    const alice = await user(server, "alice");
    await sendThroughUi(alice, "anyone?");
    await messageLog(alice).getByText("anyone?").waitFor();
    const mine = (await ok(bob.socket, "sync", { after: 0 })).messages.find((m) => m.content === "anyone?")!;
    await ok(bob.socket, "conversation:read", { conversation: { room: "lobby" }, lastReadId: mine.id });
    await ok(carol.socket, "conversation:read", { conversation: { room: "lobby" }, lastReadId: mine.id });
    await messageLog(alice).getByText("Seen by bob, carol", { exact: true }).waitFor();

    const again = await user(server, "alice");
    await messageLog(again).getByText("anyone?").waitFor();
    await messageLog(again).getByText("Seen by bob, carol", { exact: true }).waitFor();
    // A reader with read receipts off is not named.
    await ok(carol.socket, "user:update", { readReceipts: false });
    const third = await user(server, "alice");
    await messageLog(third).getByText("Seen by bob", { exact: true }).waitFor();
  });

  it("edits and deletes my messages from their action menu, and the other user sees the edit and the tombstone live", async () => {
    const server = await startServer();
    const alice = await user(server, "alice");
    const bob = await user(server, "bob");
    await sendThroughUi(alice, "teh original");
    await sendThroughUi(alice, "a regrettable remark");
    await messageLog(bob).getByText("a regrettable remark").waitFor();
    // Others' messages cannot be edited or deleted.
    await messageItem(bob, "teh original").getByRole("button", { name: "Message actions" }).click();
    await bob.getByRole("menuitem", { name: "Reply" }).waitFor();
    expect(await bob.getByRole("menuitem", { name: /^(Edit|Delete)$/ }).count()).toBe(0);
    await bob.keyboard.press("Escape");
    await bob.getByRole("menuitem", { name: "Reply" }).waitFor({ state: "detached" });

    // Edit with the keyboard only.
    await messageItem(alice, "teh original").getByRole("button", { name: "Message actions" }).focus();
    await alice.keyboard.press("Enter");
    const focused = (name: string) =>
      alice.getByRole("menuitem", { name, exact: true }).evaluate((item) => item === item.ownerDocument.activeElement);
    await expect.poll(() => focused("Reply")).toBe(true);
    // Arrow keys move through the menu and wrap: up from the first item is Delete, then Edit.
    await alice.keyboard.press("ArrowUp");
    await expect.poll(() => focused("Delete")).toBe(true);
    await alice.keyboard.press("ArrowUp");
    await expect.poll(() => focused("Edit")).toBe(true);
    await alice.keyboard.press("Enter");
    const editor = alice.getByRole("textbox", { name: "Edit message" });
    await editor.fill("the original");
    await editor.press("Enter");
    await messageItem(alice, "the original").getByText("(edited)").waitFor();
    await messageItem(bob, "the original").getByText("(edited)").waitFor();
    expect(await messageLog(bob).getByText("teh original").count()).toBe(0);

    await messageItem(alice, "a regrettable remark").hover();
    await messageItem(alice, "a regrettable remark").getByRole("button", { name: "Message actions" }).click();
    await alice.getByRole("menuitem", { name: "Delete" }).click();
    await alice.getByRole("dialog").getByRole("button", { name: "Delete message" }).click();
    await messageLog(bob).getByText("This message was deleted.").waitFor();
    await messageLog(alice).getByText("This message was deleted.").waitFor();
    expect(await messageLog(bob).getByText("a regrettable remark").count()).toBe(0);
  });

  it("toggles reactions from the menu and the chips, and sends a reply that shows the quoted message", async () => {
    const server = await startServer();
    const alice = await user(server, "alice");
    const bob = await user(server, "bob");
    await sendThroughUi(alice, "pizza on friday?");
    await messageLog(bob).getByText("pizza on friday?").waitFor();

    await messageItem(bob, "pizza on friday?").getByRole("button", { name: "Message actions" }).click();
    await bob.getByRole("menuitem", { name: "React with 👍" }).click();
    const chip = (page: Page, label: string) =>
      messageItem(page, "pizza on friday?").getByRole("button", { name: label, exact: true });
    await chip(alice, "👍 1, from bob").waitFor();
    expect(await chip(alice, "👍 1, from bob").getAttribute("aria-pressed")).toBe("false");
    await chip(alice, "👍 1, from bob").click();
    await chip(alice, "👍 2, from bob, you").waitFor();
    expect(await chip(alice, "👍 2, from bob, you").getAttribute("aria-pressed")).toBe("true");
    await chip(bob, "👍 2, from you, alice").waitFor();
    // A chip toggles my own reaction off again.
    await chip(bob, "👍 2, from you, alice").click();
    await chip(alice, "👍 1, from you").waitFor();

    await messageItem(bob, "pizza on friday?").getByRole("button", { name: "Message actions" }).click();
    await bob.getByRole("menuitem", { name: "Reply" }).click();
    await bob.getByRole("note", { name: "Replying to alice: pizza on friday?" }).waitFor();
    await sendThroughUi(bob, "count me in");
    await bob.getByRole("note").waitFor({ state: "detached" });
    const reply = messageItem(alice, "count me in");
    await reply.waitFor();
    expect(await reply.locator(".reply-quote").innerText()).toBe("You\npizza on friday?");
  });

  it("searches messages and opens the conversation of a result at the message, and says when offline members were last seen", async () => {
    const server = await startServer();
    (await connect(server, "alice")).socket.disconnect();
    const carol = await connect(server, "carol");
    const bob = await connect(server, "bob");
    const secret = await ok(bob.socket, "message:send", {
      messageType: "single",
      mediaType: "text",
      to: "alice",
      content: "the launch code is banana",
    });
    for (let i = 0; i < 3; i += 1) await ok(bob.socket, "message:send", lobbyText(`lobby chatter ${i}`));
    carol.socket.disconnect();

    const alice = await user(server, "alice");
    // Carol left before alice came: her last-seen time comes from presence:query.
    const offline = alice
      .getByRole("complementary")
      .getByRole("button", { name: "Message carol, offline", exact: true });
    await offline.getByText("last seen just now").waitFor();
    expect(await offline.getAttribute("aria-describedby")).toBe("last-seen-carol");
    expect(
      await alice
        .getByRole("complementary")
        .getByRole("button", { name: "Message bob, online", exact: true })
        .innerText(),
    ).not.toContain("last seen");

    await alice.getByRole("searchbox", { name: "Search messages" }).fill("banana");
    await alice.getByRole("searchbox", { name: "Search messages" }).press("Enter");
    const results = alice.getByRole("dialog").getByRole("list", { name: "Search results" });
    await results.getByRole("button").first().waitFor();
    expect(await results.getByRole("button").allInnerTexts()).toEqual([
      expect.stringContaining("the launch code is banana") as string,
    ]);
    await results.getByRole("button").first().click();
    await alice.getByRole("heading", { level: 1, name: "bob" }).waitFor();
    await messageLog(alice).locator(`li.msg[data-id="${secret.id}"]`).getByText("the launch code is banana").waitFor();

    // Bob goes away while alice watches: the offline notice gives his last-seen time.
    bob.socket.disconnect();
    await alice
      .getByRole("complementary")
      .getByRole("button", { name: "Message bob, offline", exact: true })
      .getByText("last seen just now")
      .waitFor();
    await alice.locator("main header").getByText("Offline · last seen just now", { exact: true }).waitFor();
    await screenshot(alice, "desktop-search-last-seen");
  });
});
