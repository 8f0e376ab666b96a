import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { messageLog, screenshot, sendThroughUi, useBrowser } from "../support/browser.js";
import { PUSH_KEY, connect, ok, signToken, startServer, type TestServer } from "../support/harness.js";

// Issue 14: the web client people keep open all day (invitations, live member lists, presence, reloads).

const openInBrowser = useBrowser();

/** Opens the web client signed in as `id` (a fresh browser: nothing remembered locally) and waits for `heading`. */
async function user(server: TestServer, id: string, heading = "Lobby"): Promise<Page> {
  const opened = await openInBrowser(server.url, { session: { token: signToken(id), user: { id, name: id } } });
  await opened.page.getByRole("heading", { level: 1, name: heading }).waitFor();
  return opened.page;
}

const sidebarItem = (page: Page, name: string | RegExp) =>
  page.getByRole("navigation", { name: "Conversations" }).getByRole("button", { name, exact: true });

const invitation = (page: Page, room: string) =>
  page.getByRole("navigation", { name: "Conversations" }).locator(".invite", { hasText: room });

const membersPanel = (page: Page) => page.getByRole("complementary");

const member = (page: Page, name: string, state: "online" | "offline") =>
  membersPanel(page).getByRole("button", { name: `Message ${name}, ${state}`, exact: true });

const messageItem = (page: Page, text: string) => messageLog(page).locator("li.msg", { hasText: text });

const privateRoom = async (owner: Awaited<ReturnType<typeof connect>>, name: string) =>
  ok(owner.socket, "room:create", { name, visibility: "private" });

describe("the web client kept open all day", { timeout: 60_000 }, () => {
  it("lists an invitation after the invitee reloads and one made while they were away, forgets a declined one for good and joins an accepted one", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const secret = await privateRoom(alice, "secret");
    const plans = await privateRoom(alice, "plans");

    const bob = await user(server, "bob");
    await ok(alice.socket, "room:invite", { roomId: secret.id, userId: "bob" });
    await invitation(bob, "secret").waitFor();
    await bob.reload();
    await bob.getByRole("heading", { level: 1, name: "Lobby" }).waitFor();
    await invitation(bob, "secret").getByText("alice invited you to secret").waitFor();
    await screenshot(bob, "desktop-pending-invitation");

    // Bob closes the app; alice invites him meanwhile; he sees it when he opens the app again.
    await bob.close();
    await ok(alice.socket, "room:invite", { roomId: plans.id, userId: "bob" });
    const later = await user(server, "bob");
    await invitation(later, "plans").waitFor();
    await invitation(later, "secret").waitFor();
    // Newest first.
    expect(await later.locator(".invite").allInnerTexts()).toEqual([
      expect.stringContaining("plans") as string,
      expect.stringContaining("secret") as string,
    ]);

    await later.getByRole("button", { name: "Decline the invitation to secret", exact: true }).click();
    await invitation(later, "secret").waitFor({ state: "detached" });
    await later.reload();
    await invitation(later, "plans").waitFor();
    expect(await invitation(later, "secret").count()).toBe(0);

    await later.getByRole("button", { name: "Accept the invitation to plans", exact: true }).click();
    await later.getByRole("heading", { level: 1, name: "plans" }).waitFor();
    await sidebarItem(later, "plans, private").waitFor();
    expect(await later.locator(".invite").count()).toBe(0);
    // Joining used the invitation up: it is not listed after a reload either.
    await later.reload();
    await later.getByRole("heading", { level: 1, name: "plans" }).waitFor();
    expect(await later.locator(".invite").count()).toBe(0);
  });

  it("takes an invitation's toast away once it is accepted or declined in the sidebar, and keeps toasts off the member panel", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const secret = await privateRoom(alice, "secret");
    const plans = await privateRoom(alice, "plans");
    const bob = await user(server, "bob");
    const otherWindow = await user(server, "bob");
    await member(bob, "alice", "online").waitFor();

    const toast = (room: string, page = bob) =>
      page.getByRole("status").filter({ hasText: `alice invited you to ${room}.` });
    await ok(alice.socket, "room:invite", { roomId: secret.id, userId: "bob" });
    await toast("secret").waitFor();
    await toast("secret", otherWindow).waitFor();
    const toastBox = (await toast("secret").boundingBox())!;
    const panelBox = (await membersPanel(bob).boundingBox())!;
    expect(toastBox.x + toastBox.width).toBeLessThanOrEqual(panelBox.x);

    await bob.getByRole("button", { name: "Accept the invitation to secret", exact: true }).click();
    await bob.getByRole("heading", { level: 1, name: "secret" }).waitFor();
    expect(await toast("secret").count()).toBe(0);
    // Joined in one window: the other window's toast and sidebar entry go too.
    await invitation(otherWindow, "secret").waitFor({ state: "detached" });
    expect(await toast("secret", otherWindow).count()).toBe(0);
    await sidebarItem(otherWindow, "secret, private").waitFor();

    await ok(alice.socket, "room:invite", { roomId: plans.id, userId: "bob" });
    await toast("plans").waitFor();
    await bob.getByRole("button", { name: "Decline the invitation to plans", exact: true }).click();
    await invitation(bob, "plans").waitFor({ state: "detached" });
    expect(await toast("plans").count()).toBe(0);
  });

  it("updates the member list, its count and the room's member count live in every window of the creator as people join and leave", async () => {
    const server = await startServer();
    const aliceSocket = await connect(server, "alice");
    const design = await ok(aliceSocket.socket, "room:create", { name: "design", visibility: "public" });
    const windows = [await user(server, "alice"), await user(server, "alice")];
    for (const page of windows) {
      await sidebarItem(page, "design").click();
      await page.getByText("Public room · 1 member", { exact: true }).waitFor();
      await membersPanel(page).getByRole("heading", { name: "Members · 1" }).waitFor();
      // The creator owns the room.
      await membersPanel(page)
        .getByRole("button", { name: "alice (you) (owner), online: notes to self", exact: true })
        .getByText("owner", { exact: true })
        .waitFor();
    }

    const bob = await connect(server, "bob");
    await ok(bob.socket, "room:join", { roomId: design.id });
    await ok(bob.socket, "message:send", { messageType: "group", mediaType: "text", to: design.id, content: "hi all" });
    for (const page of windows) {
      await messageLog(page).getByText("hi all").waitFor();
      await member(page, "bob", "online").waitFor();
      await membersPanel(page).getByRole("heading", { name: "Members · 2" }).waitFor();
      await page.getByText("Public room · 2 members", { exact: true }).waitFor();
    }
    await screenshot(windows[0]!, "desktop-live-members");

    await ok(bob.socket, "room:leave", { roomId: design.id });
    for (const page of windows) {
      await member(page, "bob", "online").waitFor({ state: "detached" });
      await membersPanel(page).getByRole("heading", { name: "Members · 1" }).waitFor();
      await page.getByText("Public room · 1 member", { exact: true }).waitFor();
    }
  });

  it("turns a member's online dot on and off through presence:subscribe in a room too big for online notices", async () => {
    const server = await startServer({ PRESENCE_ROOM_LIMIT: "1" });
    (await connect(server, "carol")).socket.disconnect();
    const alice = await user(server, "alice");
    await member(alice, "carol", "offline").waitFor();

    const carol = await connect(server, "carol");
    await member(alice, "carol", "online").waitFor();
    carol.socket.disconnect();
    await member(alice, "carol", "offline").waitFor();
    // The lobby is over the limit: no notices in its log, only the dots.
    expect(await messageLog(alice).getByText("carol is online").count()).toBe(0);
  });

  it("shows (edited) on an edited follow-up message grouped under the one before it", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await user(server, "bob");
    const lobbyText = (content: string) => ({ messageType: "group", mediaType: "text", to: "lobby", content }) as const;
    await ok(alice.socket, "message:send", lobbyText("first thought"));
    const followUp = await ok(alice.socket, "message:send", lobbyText("secnod thought"));
    await messageItem(bob, "secnod thought").waitFor();
    expect(await messageItem(bob, "secnod thought").getAttribute("class")).toContain("continued");

    await ok(alice.socket, "message:edit", { id: followUp.id, content: "second thought" });
    await messageItem(bob, "second thought").getByText("(edited)").waitFor();
    expect(await messageItem(bob, "second thought").getAttribute("class")).toContain("continued");
    // The grouped message still shows no second author line.
    expect(await messageItem(bob, "second thought").locator(".msg-author").isVisible()).toBe(false);
  });

  it("comes back to the conversation it showed before a reload", async () => {
    const server = await startServer();
    const aliceSocket = await connect(server, "alice");
    await ok(aliceSocket.socket, "room:create", { name: "design", visibility: "public" });
    const alice = await user(server, "alice");
    await sidebarItem(alice, "design").click();
    await alice.getByRole("heading", { level: 1, name: "design" }).waitFor();
    await sendThroughUi(alice, "where was I?");
    await messageLog(alice).getByText("where was I?").waitFor();

    await alice.reload();
    await alice.getByRole("heading", { level: 1, name: "design" }).waitFor();
    await messageLog(alice).getByText("where was I?").waitFor();
    await sidebarItem(alice, "design").waitFor();
    expect(await sidebarItem(alice, "design").getAttribute("aria-current")).toBe("page");
  });

  it("shows no member panel in the System conversation", async () => {
    const server = await startServer();
    (await connect(server, "alice")).socket.disconnect();
    const response = await fetch(`${server.url}/api/push`, {
      method: "POST",
      headers: { Authorization: `Bearer ${PUSH_KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify({ to: { user: "alice" }, content: "maintenance tonight" }),
    });
    expect(response.status).toBe(202);
    const alice = await user(server, "alice");
    await membersPanel(alice)
      .getByRole("heading", { name: /^Members · / })
      .waitFor();

    await sidebarItem(alice, /^System/).click();
    await alice.getByRole("heading", { level: 1, name: "System" }).waitFor();
    await messageLog(alice).getByText("maintenance tonight").waitFor();
    expect(await membersPanel(alice).isVisible()).toBe(false);
    expect(await alice.getByRole("button", { name: "Members", exact: true }).isVisible()).toBe(false);
    // Other conversations keep theirs.
    await sidebarItem(alice, "Lobby").click();
    await membersPanel(alice)
      .getByRole("heading", { name: /^Members · / })
      .waitFor();
  });
});
