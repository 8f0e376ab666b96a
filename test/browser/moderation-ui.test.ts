import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { composer, messageLog, screenshot, useBrowser } from "../support/browser.js";
import { ADMIN_KEY, connect, ok, request, signToken, startServer, type TestServer } from "../support/harness.js";

// Issue 15 (contract section 11) in the web client: moderation from the member list and the message menu, the
// muted composer, removed and deleted rooms, and room edits, live in the other windows.

const openInBrowser = useBrowser();

/** Opens the web client signed in as `id` (on a desktop, or a 360 px phone) and waits for the lobby. */
async function user(server: TestServer, id: string, phone = false): Promise<Page> {
  const opened = await openInBrowser(server.url, {
    session: { token: signToken(id), user: { id, name: id } },
    ...(phone ? { viewport: { width: 360, height: 740 }, mobile: true } : {}),
  });
  await opened.page.getByRole("heading", { level: 1, name: "Lobby" }).waitFor();
  return opened.page;
}

const sidebar = (page: Page) => page.getByRole("navigation", { name: "Conversations" });
const roomButton = (page: Page, name: string) =>
  sidebar(page).getByRole("button", { name: new RegExp(`^${name}(,|$)`) });
const membersPanel = (page: Page) => page.getByRole("complementary");
const messageItem = (page: Page, text: string) => messageLog(page).locator("li.msg", { hasText: text });

/** Opens a room from the sidebar and waits for its members to be listed. */
async function openRoom(page: Page, name: string, members: number): Promise<void> {
  await roomButton(page, name).click();
  await page.getByRole("heading", { level: 1, name }).waitFor();
  await membersPanel(page)
    .getByRole("heading", { name: `Members · ${members}` })
    .waitFor();
}

/** alice's public room Ops, with bob (and carol) in it: alice's socket stays connected for the test's own moves. */
async function ops(server: TestServer, members: string[] = ["bob"]) {
  const alice = await connect(server, "alice");
  const room = await ok(alice.socket, "room:create", { name: "Ops", visibility: "public" });
  const sockets = [];
  for (const id of members) {
    const member = await connect(server, id);
    await ok(member.socket, "room:join", { roomId: room.id });
    sockets.push(member);
  }
  return { alice, room, members: sockets };
}

/** Picks an action in a member's moderation menu. */
async function moderate(page: Page, name: string, action: string): Promise<void> {
  await membersPanel(page)
    .getByRole("button", { name: `Moderate ${name}`, exact: true })
    .click();
  await membersPanel(page).getByRole("menuitem", { name: action, exact: true }).click();
}

describe("moderation in the web client", { timeout: 60_000 }, () => {
  it("mutes a member from the member list: their composer says until when and comes back on unmute", async () => {
    const server = await startServer();
    await ops(server);
    const alice = await user(server, "alice");
    const bob = await user(server, "bob");
    await openRoom(alice, "Ops", 2);
    await openRoom(bob, "Ops", 2);
    await composer(bob).fill("a draft kept through the mute");

    await moderate(alice, "bob", "Mute…");
    const dialog = alice.getByRole("dialog", { name: "Mute bob in Ops" });
    await dialog.getByRole("radio", { name: "1 hour" }).check();
    await dialog.getByRole("textbox", { name: "Reason (optional)" }).fill("cool down");
    await dialog.getByRole("button", { name: "Mute", exact: true }).click();
    await dialog.waitFor({ state: "detached" });

    // Bob's window learns it from room:member: the box is disabled and says why, with the end's local time.
    await composer(bob).and(bob.locator(":disabled")).waitFor();
    // The end's time, with its day too when the hour's mute ends after midnight (the test may run at 23:xx).
    const note = bob.getByText(/^You are muted in this room until (.+ )?\d{1,2}:\d{2}/);
    await note.waitFor();
    expect(await composer(bob).getAttribute("aria-describedby")).toBe("composer-note");
    await membersPanel(alice).locator('[data-member="bob"]').getByText("muted", { exact: true }).waitFor();
    await screenshot(bob, "moderation-muted");

    await moderate(alice, "bob", "Unmute");
    await composer(bob).and(bob.locator(":enabled")).waitFor();
    await note.waitFor({ state: "hidden" });
    expect(await composer(bob).inputValue()).toBe("a draft kept through the mute");
    await membersPanel(alice)
      .locator('[data-member="bob"]')
      .getByText("muted", { exact: true })
      .waitFor({ state: "detached" });
  });

  it("learns a mute in force from the member rows at load and enables the composer at its end without a reload", async () => {
    const server = await startServer();
    const { alice: aliceSocket, room } = await ops(server);
    await ok(aliceSocket.socket, "room:mute", { roomId: room.id, userId: "bob", until: Date.now() + 8000 });
    const bob = await user(server, "bob");
    await openRoom(bob, "Ops", 2);
    await composer(bob).and(bob.locator(":disabled")).waitFor({ timeout: 5000 });
    await bob.getByText(/^You are muted in this room until/).waitFor();
    await composer(bob).and(bob.locator(":enabled")).waitFor({ timeout: 15_000 });
    expect(await bob.getByText(/^You are muted in this room/).count()).toBe(0);
  });

  it("removes a kicked member's room from their sidebar with a notice naming who and why", async () => {
    const server = await startServer();
    await ops(server);
    const alice = await user(server, "alice");
    const bob = await user(server, "bob");
    await openRoom(alice, "Ops", 2);
    await openRoom(bob, "Ops", 2);

    await moderate(alice, "bob", "Remove from room…");
    const dialog = alice.getByRole("dialog", { name: "Remove bob from Ops?" });
    await dialog.getByRole("textbox", { name: "Reason (optional)" }).fill("off topic");
    await dialog.getByRole("button", { name: "Remove", exact: true }).click();
    await dialog.waitFor({ state: "detached" });

    await bob.getByText("You were removed from Ops by alice: off topic").waitFor();
    await roomButton(bob, "Ops").waitFor({ state: "detached" });
    await bob.getByRole("heading", { level: 1, name: "Lobby" }).waitFor();
    await membersPanel(alice).getByRole("heading", { name: "Members · 1" }).waitFor();
  });

  it("bans a member for a while: the room leaves their sidebar with the notice and joining again is refused", async () => {
    const server = await startServer();
    const { room } = await ops(server);
    const alice = await user(server, "alice");
    const bob = await user(server, "bob");
    await openRoom(alice, "Ops", 2);
    await openRoom(bob, "Ops", 2);

    await moderate(alice, "bob", "Ban…");
    const dialog = alice.getByRole("dialog", { name: "Ban bob from Ops?" });
    await dialog.getByRole("radio", { name: "1 day" }).check();
    await dialog.getByRole("button", { name: "Ban", exact: true }).click();
    await dialog.waitFor({ state: "detached" });

    await bob.getByText("You were banned from Ops by alice.").waitFor();
    await roomButton(bob, "Ops").waitFor({ state: "detached" });
    const again = await connect(server, "bob");
    const join = await request(again.socket, "room:join", { roomId: room.id });
    expect(join).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });

    // The owner sees the ban in the member list, and lifts it: bob may join again.
    const banned = membersPanel(alice).getByRole("region", { name: "Banned" });
    await banned.getByRole("heading", { name: "Banned — 1" }).waitFor();
    await banned.getByText(/^until /).waitFor();
    await screenshot(alice, "moderation-banned");
    await banned.getByRole("button", { name: "Unban bob" }).click();
    await alice.getByText("bob may join Ops again.").waitFor();
    await banned.waitFor({ state: "detached" });
    expect(await request(again.socket, "room:join", { roomId: room.id })).toMatchObject({ ok: true });
  });

  it("shows bans made elsewhere to the room's moderators, and never to its members", async () => {
    const server = await startServer();
    const { alice: aliceSocket, room } = await ops(server, ["bob", "carol", "dave"]);
    await ok(aliceSocket.socket, "room:role", { roomId: room.id, userId: "bob", role: "moderator" });
    const bob = await user(server, "bob");
    const carol = await user(server, "carol");
    await openRoom(bob, "Ops", 4);
    await openRoom(carol, "Ops", 4);
    // A member banned by the owner from another client: bob's list learns it live, from room:member.
    await ok(aliceSocket.socket, "room:ban", { roomId: room.id, userId: "dave", until: Date.now() + 3_600_000 });
    const banned = membersPanel(bob).getByRole("region", { name: "Banned" });
    await banned.getByRole("heading", { name: "Banned — 1" }).waitFor();
    // Someone outside the room, banned for good with a reason: nobody is told; reopening the room reads it.
    await ok(aliceSocket.socket, "room:ban", { roomId: room.id, userId: "mallory", reason: "spam" });
    await openRoom(bob, "Lobby", 4);
    await openRoom(bob, "Ops", 3);
    await banned.getByRole("heading", { name: "Banned — 2" }).waitFor();
    await banned.getByText("for good · spam").waitFor();
    // carol, a member, is never shown the list (her client does not ask: the server would refuse).
    await membersPanel(carol).getByRole("heading", { name: "Members · 3" }).waitFor();
    expect(await membersPanel(carol).getByRole("region", { name: "Banned" }).count()).toBe(0);
    expect(
      await membersPanel(carol)
        .getByRole("button", { name: /^Unban / })
        .count(),
    ).toBe(0);
  });

  it("asks for a room's bans once per opening, even when the server refuses (no request per redraw)", async () => {
    const server = await startServer();
    await ops(server, ["carol"]);
    const setAdmin = (admin: boolean) =>
      fetch(`${server.url}/api/admin/users/carol/admin`, {
        method: "POST",
        headers: { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/json" },
        body: JSON.stringify({ admin }),
      });
    expect((await setAdmin(true)).status).toBe(200);
    const opened = await openInBrowser(server.url, {
      session: { token: signToken("carol"), user: { id: "carol", name: "carol" } },
    });
    const carol = opened.page;
    let asked = 0;
    carol.on("websocket", (socket) =>
      socket.on("framesent", (frame) => {
        if (typeof frame.payload === "string" && frame.payload.includes('"room:bans"')) asked++;
      }),
    );
    await carol.getByRole("heading", { level: 1, name: "Lobby" }).waitFor();
    await carol.getByRole("link", { name: "Admin console" }).waitFor();
    // No longer an admin, but this tab does not know: the server refuses its room:bans.
    expect((await setAdmin(false)).status).toBe(200);
    await openRoom(carol, "Ops", 2);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(asked).toBe(1);
    expect(await membersPanel(carol).getByRole("region", { name: "Banned" }).count()).toBe(0);
  });

  it("makes a member a moderator: the badge shows in their window, and a moderator gets no actions on the owner", async () => {
    const server = await startServer();
    await ops(server, ["bob", "carol"]);
    const alice = await user(server, "alice");
    const bob = await user(server, "bob");
    await openRoom(alice, "Ops", 3);
    await openRoom(bob, "Ops", 3);
    expect(
      await membersPanel(bob)
        .getByRole("button", { name: /^Moderate / })
        .count(),
    ).toBe(0);

    await moderate(alice, "bob", "Make moderator");
    await membersPanel(bob)
      .getByRole("button", { name: "bob (you) (moderator), online: notes to self", exact: true })
      .waitFor();
    // A moderator moderates members, not the owner, nor itself; and hands out no roles.
    await membersPanel(bob).getByRole("button", { name: "Moderate carol", exact: true }).click();
    const items = membersPanel(bob).getByRole("menuitem");
    expect(await items.allInnerTexts()).toEqual(["Mute…", "Remove from room…", "Ban…"]);
    expect(await membersPanel(bob).getByRole("button", { name: "Moderate alice", exact: true }).count()).toBe(0);
    expect(await membersPanel(bob).getByRole("button", { name: "Moderate bob", exact: true }).count()).toBe(0);
    await screenshot(bob, "moderation-member-menu");

    await moderate(alice, "bob", "Make member");
    await membersPanel(bob).getByRole("button", { name: "bob (you), online: notes to self", exact: true }).waitFor();
  });

  it("lets a moderator delete another member's message, which becomes a tombstone in both windows", async () => {
    const server = await startServer();
    const { alice, room } = await ops(server, ["bob", "carol"]);
    await ok(alice.socket, "room:role", { roomId: room.id, userId: "bob", role: "moderator" });
    const bob = await user(server, "bob");
    const carol = await user(server, "carol");
    await openRoom(bob, "Ops", 3);
    await openRoom(carol, "Ops", 3);
    const carolSocket = await connect(server, "carol");
    await ok(carolSocket.socket, "message:send", {
      to: room.id,
      messageType: "group",
      mediaType: "text",
      content: "buy cheap watches",
    });
    await messageItem(bob, "buy cheap watches").waitFor();
    await messageItem(carol, "buy cheap watches").waitFor();

    await messageItem(bob, "buy cheap watches").hover();
    await messageItem(bob, "buy cheap watches").getByRole("button", { name: "Message actions" }).click();
    await bob.getByRole("menuitem", { name: "Delete" }).click();
    const dialog = bob.getByRole("dialog", { name: "Delete carol’s message?" });
    await dialog.getByRole("button", { name: "Delete message" }).click();
    await dialog.waitFor({ state: "detached" });

    await messageLog(bob).getByText("This message was deleted by you.").waitFor();
    await messageLog(carol).getByText("This message was deleted by bob.").waitFor();
    expect(await messageLog(carol).getByText("buy cheap watches").count()).toBe(0);
  });

  it("renames a room and sets its topic live in a member's window", async () => {
    const server = await startServer();
    await ops(server);
    const alice = await user(server, "alice");
    const bob = await user(server, "bob");
    await openRoom(alice, "Ops", 2);
    await openRoom(bob, "Ops", 2);

    await alice.getByRole("button", { name: "Edit room" }).click();
    const dialog = alice.getByRole("dialog", { name: "Edit Ops" });
    await dialog.getByRole("textbox", { name: "Room name" }).fill("Release train");
    await dialog.getByRole("textbox", { name: "Topic" }).fill("Releases on Thursdays");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });

    for (const page of [bob, alice]) {
      await page.getByRole("heading", { level: 1, name: "Release train" }).waitFor();
      await page.locator(".chat-header").getByText("Releases on Thursdays").waitFor();
      await roomButton(page, "Release train").waitFor();
    }
    expect(await roomButton(bob, "Ops").count()).toBe(0);
  });

  it("deletes a room once confirmed: it leaves a member's sidebar with a notice", async () => {
    const server = await startServer();
    await ops(server);
    const alice = await user(server, "alice");
    const bob = await user(server, "bob");
    await openRoom(alice, "Ops", 2);
    await openRoom(bob, "Ops", 2);

    await alice.getByRole("button", { name: "Edit room" }).click();
    await alice.getByRole("dialog", { name: "Edit Ops" }).getByRole("button", { name: "Delete room…" }).click();
    const confirm = alice.getByRole("dialog", { name: "Delete Ops?" });
    await confirm.getByRole("button", { name: "Delete room" }).click();
    await confirm.waitFor({ state: "detached" });

    await bob.getByText("Ops was deleted by alice.").waitFor();
    await roomButton(bob, "Ops").waitFor({ state: "detached" });
    await bob.getByRole("heading", { level: 1, name: "Lobby" }).waitFor();
    await roomButton(alice, "Ops").waitFor({ state: "detached" });
  });

  it("shows a member no moderation actions (no member menus, no Delete on others' messages, no Edit room) until made a moderator", async () => {
    const server = await startServer();
    const { alice, room } = await ops(server, ["bob", "carol"]);
    const carol = await user(server, "carol");
    await openRoom(carol, "Ops", 3);
    const bobSocket = await connect(server, "bob");
    await ok(bobSocket.socket, "message:send", {
      to: room.id,
      messageType: "group",
      mediaType: "text",
      content: "hello from bob",
    });
    const openMenu = async () => {
      await messageItem(carol, "hello from bob").hover();
      await messageItem(carol, "hello from bob").getByRole("button", { name: "Message actions" }).click();
      await carol.getByRole("menuitem", { name: "Reply" }).waitFor();
    };
    await openMenu();
    expect(await carol.getByRole("menuitem", { name: "Delete" }).count()).toBe(0);
    await carol.keyboard.press("Escape");
    expect(
      await membersPanel(carol)
        .getByRole("button", { name: /^Moderate / })
        .count(),
    ).toBe(0);
    expect(await carol.getByRole("button", { name: "Edit room" }).isVisible()).toBe(false);

    // Made a moderator (by the owner, elsewhere): the same window offers them, on members only, live.
    await ok(alice.socket, "room:role", { roomId: room.id, userId: "carol", role: "moderator" });
    await membersPanel(carol).getByRole("button", { name: "Moderate bob", exact: true }).waitFor();
    expect(await membersPanel(carol).getByRole("button", { name: "Moderate alice", exact: true }).count()).toBe(0);
    await openMenu();
    await carol.getByRole("menuitem", { name: "Delete" }).waitFor();
    // Moderators do not edit rooms.
    expect(await carol.getByRole("button", { name: "Edit room" }).isVisible()).toBe(false);
  });

  it("fits a 360 px phone: Edit room in the header, the member menu in the drawer, the mute dialog", async () => {
    const server = await startServer();
    await ops(server);
    const alice = await user(server, "alice", true);
    await alice.getByRole("button", { name: "All conversations" }).click();
    await sidebar(alice)
      .getByRole("button", { name: /^Ops(,|$)/ })
      .click();
    await alice.getByRole("heading", { level: 1, name: "Ops" }).waitFor();
    await alice.getByRole("button", { name: "Edit room" }).waitFor();
    await alice.getByRole("button", { name: "Members", exact: true }).click();
    await membersPanel(alice).getByRole("heading", { name: "Members · 2" }).waitFor();
    await membersPanel(alice).getByRole("button", { name: "Moderate bob", exact: true }).click();
    const menu = membersPanel(alice).getByRole("menu", { name: "Moderate bob" });
    const box = (await menu.boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(360);
    expect(await alice.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(360);
    await screenshot(alice, "phone-moderation-menu");
    await menu.getByRole("menuitem", { name: "Mute…" }).click();
    const dialog = alice.getByRole("dialog", { name: "Mute bob in Ops" });
    const dialogBox = (await dialog.boundingBox())!;
    expect(dialogBox.x + dialogBox.width).toBeLessThanOrEqual(360);
    await dialog.getByRole("button", { name: "Mute", exact: true }).click();
    await dialog.waitFor({ state: "detached" });
    await membersPanel(alice).locator('[data-member="bob"]').getByText("muted", { exact: true }).waitFor();
  });
});
