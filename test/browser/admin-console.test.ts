import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import type { AuthResponse } from "../../shared/schemas.js";
import {
  composer,
  messageLog,
  registerThroughUi,
  screenshot,
  sendThroughUi,
  untilInPage,
  useBrowser,
} from "../support/browser.js";
import { signatureValid, startReceiver } from "../support/webhook-receiver.js";
import {
  ADMIN_KEY,
  connect,
  nextEvent,
  ok,
  signToken,
  startServer,
  until,
  waitForMessage,
  type TestServer,
} from "../support/harness.js";

// Issue 15: the admin console at /admin, and the account UX of the chat client (session-ending notices,
// change password, sign out everywhere, the link to the console for admins).

const openInBrowser = useBrowser();

const PASSWORD = "correct horse battery";

/** Opens the console and signs in with the admin key; waits for the dashboard. */
async function console(server: TestServer, options: { width?: number } = {}): Promise<Page> {
  const { page } = await openInBrowser(`${server.url}/admin`, {
    viewport: { width: options.width ?? 1280, height: 800 },
  });
  await page.getByLabel("Admin API key").fill(ADMIN_KEY);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
  return page;
}

/** Opens a section of the console from its navigation. */
async function section(page: Page, name: string): Promise<void> {
  await page.getByRole("navigation", { name: "Admin sections" }).getByRole("link", { name }).click();
  await page.getByRole("heading", { level: 1, name }).waitFor();
}

/** Answers the console's confirmation dialog with its action button. */
async function confirm(page: Page, title: string | RegExp, action: string): Promise<void> {
  const dialog = page.getByRole("dialog", { name: title });
  await dialog.getByRole("button", { name: action, exact: true }).click();
  await dialog.waitFor({ state: "detached" });
}

/** The chat signed in as `id` with a token of an external issuer; waits for the lobby. */
async function chatAs(server: TestServer, id: string): Promise<Page> {
  const opened = await openInBrowser(server.url, { session: { token: signToken(id), user: { id, name: id } } });
  await opened.page.getByRole("heading", { level: 1, name: "Lobby" }).waitFor();
  return opened.page;
}

/** A fresh window of the chat, registering a built-in account through the sign-in screen. */
async function registered(server: TestServer, id: string): Promise<Page> {
  const { page } = await openInBrowser(server.url);
  await registerThroughUi(page, id, PASSWORD);
  return page;
}

/** The token the chat keeps in this tab. */
const tokenOf = async (page: Page) =>
  (JSON.parse((await page.evaluate("sessionStorage.getItem('chat.session')")) as string) as AuthResponse).token;

const signInNote = (page: Page) => page.locator(".auth-note");

async function api(server: TestServer, path: string, token: string, init: RequestInit = {}) {
  return fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });
}

describe("admin console: signing in", { timeout: 60_000 }, () => {
  it("is served at /admin, refuses a wrong key with a message, signs in with the key (kept in sessionStorage only) and signs out", async () => {
    const server = await startServer();
    const { page } = await openInBrowser(`${server.url}/admin`);
    await page.getByRole("heading", { level: 1, name: "Admin console" }).waitFor();
    await page.getByLabel("Admin API key").fill("not-the-admin-key");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("alert").filter({ hasText: "That admin key is not valid." }).waitFor();

    await page.getByLabel("Admin API key").fill(ADMIN_KEY);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
    await page.getByText("Signed in with the admin key").waitFor();
    const stored = (await page.evaluate(
      "JSON.stringify([sessionStorage.getItem('chat.admin'), localStorage.length])",
    )) as string;
    const [session, localCount] = JSON.parse(stored) as [string, number];
    expect(JSON.parse(session)).toMatchObject({ kind: "key", bearer: ADMIN_KEY });
    expect(localCount).toBe(0);
    // A reload keeps the console signed in (this tab's sessionStorage).
    await page.reload();
    await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();

    await page.getByRole("button", { name: "Sign out" }).click();
    await signInNote(page).filter({ hasText: "You are signed out of the admin console." }).waitFor();
    expect(await page.evaluate("sessionStorage.getItem('chat.admin')")).toBeNull();
  });

  it("refuses a user who is not an admin (admins only), and lets an admin user in with username and password", async () => {
    const server = await startServer({ ADMIN_USERS: "carol" });
    for (const username of ["bob", "carol"]) {
      const answer = await fetch(`${server.url}/api/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username, password: PASSWORD }),
      });
      expect(answer.status).toBe(201);
    }
    const { page } = await openInBrowser(`${server.url}/admin`);
    const signIn = async (username: string) => {
      await page.getByRole("group", { name: "Sign in with" }).getByRole("button", { name: "Admin account" }).click();
      await page.getByLabel("Username").fill(username);
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
    };
    await signIn("bob");
    await page.getByRole("alert").filter({ hasText: "Admins only: bob is not an admin." }).waitFor();
    await signIn("carol");
    await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
    await page.getByText("Signed in as carol").waitFor();
  });

  it("links admins to the console from the chat, which opens signed in as them; others get no link", async () => {
    const server = await startServer({ ADMIN_USERS: "carol" });
    const bobPage = await openInBrowser(server.url, {
      session: { token: signToken("bob"), user: { id: "bob", name: "bob" } },
    });
    const bob = bobPage.page;
    await bob.getByRole("heading", { level: 1, name: "Lobby" }).waitFor();
    const carol = await chatAs(server, "carol");
    const link = carol.getByRole("link", { name: "Admin console" });
    await link.waitFor();
    // Bob's check has been answered by the time Carol's was (both ran at load): still no link for him.
    await bob.getByRole("button", { name: "Profile and settings (bob)" }).waitFor();
    expect(await bob.getByRole("link", { name: "Admin console" }).count()).toBe(0);
    // Asking whether bob is an admin is no failed request (the browser would log a 403 on every load).
    expect(bobPage.failed).toEqual([]);
    await link.click();
    await carol.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
    await carol.getByText("Signed in as carol").waitFor();
  });
});

describe("admin console: the chat's admins", { timeout: 60_000 }, () => {
  it("a sign-out from the console holds across a reload; a credential that stops counting returns to the sign-in screen", async () => {
    const server = await startServer({ ADMIN_USERS: "carol" });
    const carol = await chatAs(server, "carol");
    await carol.getByRole("link", { name: "Admin console" }).click();
    await carol.getByText("Signed in as carol").waitFor();
    await carol.getByRole("button", { name: "Sign out" }).click();
    await signInNote(carol).filter({ hasText: "You are signed out of the admin console." }).waitFor();
    await carol.reload();
    await carol.getByRole("heading", { level: 1, name: "Admin console" }).waitFor();
    expect(await carol.getByText("Signed in as carol").count()).toBe(0);

    // Another tab of hers, in the console through the chat; then she is signed out everywhere by the key.
    const again = await chatAs(server, "carol");
    await again.getByRole("link", { name: "Admin console" }).click();
    await again.getByText("Signed in as carol").waitFor();
    expect((await api(server, "/api/admin/users/carol/sign-out", ADMIN_KEY, { method: "POST" })).status).toBe(200);
    // The dashboard's next reading (within 5 s) is refused.
    await signInNote(again).filter({ hasText: "Your admin sign-in no longer counts" }).waitFor({ timeout: 15_000 });
  });
});

describe("admin console: dashboard", { timeout: 60_000 }, () => {
  it("shows connections, users online, the node and messages per minute from the live counters", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    await connect(server, "alice");
    await connect(server, "bob");
    const page = await console(server);
    const card = (label: string) => page.locator(".admin-card", { hasText: label }).locator("strong");
    await untilInPage(page, "document.querySelectorAll('.admin-card strong')[0]?.textContent === '3'");
    expect(await card("Users online").innerText()).toBe("2");
    const nodes = page.getByRole("table", { name: "Nodes" });
    await nodes.getByRole("cell", { name: server.config.nodeId, exact: true }).waitFor();
    expect(await nodes.getByRole("columnheader").allInnerTexts()).toEqual([
      "NODE",
      "CONNECTIONS",
      "STARTED",
      "MESSAGES SINCE START",
    ]);
    // Between the first reading and the next (5 s later), six messages: a rate above zero.
    for (let i = 0; i < 6; i += 1) {
      await ok(alice.socket, "message:send", {
        messageType: "group",
        mediaType: "text",
        to: "lobby",
        content: `m${i}`,
      });
    }
    await untilInPage(
      page,
      "(() => { const t = [...document.querySelectorAll('.admin-card')].find((c) => c.textContent.startsWith('Messages per minute'))?.querySelector('strong')?.textContent; return t !== undefined && t !== '…' && Number(t) > 0; })()",
      15_000,
    );
    // A third reading draws the chart.
    await page.getByRole("img", { name: /^Messages per minute: / }).waitFor({ timeout: 15_000 });
    if (process.env["UPDATE_SCREENSHOTS"] === "1") {
      // For the README: a few more readings with some traffic, so the chart has a shape.
      for (const count of [14, 4, 22, 9, 17]) {
        for (let i = 0; i < count; i += 1) {
          await ok(alice.socket, "message:send", {
            messageType: "group",
            mediaType: "text",
            to: "lobby",
            content: "x",
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 5000));
      }
    }
    await screenshot(page, "admin-dashboard");
  });
});

describe("admin console: users", { timeout: 60_000 }, () => {
  it("disables a user: their other window returns to the sign-in screen saying so, and they cannot sign in", async () => {
    const server = await startServer();
    const bob = await registered(server, "bob");
    const page = await console(server);
    await section(page, "Users");
    await page.getByRole("button", { name: "Disable bob" }).click();
    const dialog = page.getByRole("dialog", { name: "Disable bob?" });
    await dialog.getByText(/signed out everywhere at once/).waitFor();
    await screenshot(page, "admin-confirm");
    await confirm(page, "Disable bob?", "Disable");
    await page.getByRole("status").filter({ hasText: "bob is disabled and was signed out everywhere." }).waitFor();
    await page.getByRole("button", { name: "Enable bob" }).waitFor();

    await signInNote(bob).filter({ hasText: "Your account was disabled." }).waitFor();
    await bob.getByLabel("Username").fill("bob");
    await bob.getByLabel("Password").fill(PASSWORD);
    await bob.getByLabel("Password").press("Enter");
    await bob.getByRole("alert").filter({ hasText: "disabled" }).waitFor();
    expect(await bob.getByRole("heading", { level: 1, name: "Lobby" }).count()).toBe(0);

    // Enabled again, bob signs in.
    await page.getByRole("button", { name: "Enable bob" }).click();
    await page.getByRole("status").filter({ hasText: "bob is enabled" }).waitFor();
    await bob.getByLabel("Password").press("Enter");
    await bob.getByRole("heading", { level: 1, name: "Lobby" }).waitFor();
  });

  it("searches users and pages through them", async () => {
    const server = await startServer();
    // A user record is made on the first sight of its token.
    for (let i = 1; i <= 24; i += 1) {
      expect((await api(server, "/api/me", signToken(`user${String(i).padStart(2, "0")}`))).status).toBe(200);
    }
    // Some of them online, disabled, admin: the table says so.
    await connect(server, "user02");
    expect((await api(server, "/api/admin/users/user03/disable", ADMIN_KEY, { method: "POST" })).status).toBe(200);
    const flag = {
      method: "POST",
      body: JSON.stringify({ admin: true }),
      headers: { "content-type": "application/json" },
    };
    expect((await api(server, "/api/admin/users/user05/admin", ADMIN_KEY, flag)).status).toBe(200);
    const page = await console(server);
    await section(page, "Users");
    const rows = page.getByRole("table", { name: "Users" }).locator("tbody tr");
    await rows.filter({ hasText: "@user02" }).getByText("online", { exact: true }).waitFor();
    await rows.filter({ hasText: "@user03" }).getByText("disabled", { exact: true }).waitFor();
    await page.getByRole("button", { name: "Enable user03" }).waitFor();
    await rows.filter({ hasText: "@user05" }).getByText("admin", { exact: true }).waitFor();
    await page.getByRole("button", { name: "Remove admin user05" }).waitFor();
    await page.getByRole("cell", { name: /@user01/ }).waitFor();
    expect(await rows.count()).toBe(20);
    await screenshot(page, "admin-users");
    await page.getByRole("button", { name: "Next page" }).click();
    await page.getByRole("cell", { name: /@user24/ }).waitFor();
    expect(await rows.count()).toBe(4);
    expect(await page.getByRole("button", { name: "Next page" }).count()).toBe(0);
    await page.getByRole("button", { name: "Previous page" }).click();
    await page.getByRole("cell", { name: /@user01/ }).waitFor();

    await page.getByRole("searchbox", { name: "Search users" }).fill("user1");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    // user19 was on the first page too: wait for the search's answer by its size.
    await expect.poll(() => rows.count()).toBe(10);
    expect(await rows.filter({ hasText: "@user1" }).count()).toBe(10);
    await page.getByRole("searchbox", { name: "Search users" }).fill("nobody");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByText("No user matches “nobody”.").waitFor();
  });

  it("signs a user out, resets a password, makes an admin, each after asking", async () => {
    const server = await startServer();
    const bob = await registered(server, "bob");
    const page = await console(server);
    await section(page, "Users");
    await page.getByRole("button", { name: "Sign out bob" }).click();
    await confirm(page, "Sign bob out everywhere?", "Sign out everywhere");
    await page.getByRole("status").filter({ hasText: "bob was signed out everywhere." }).waitFor();
    await signInNote(bob).filter({ hasText: "You were signed out." }).waitFor();

    await page.getByRole("button", { name: "Reset password of bob" }).click();
    const reset = page.getByRole("dialog", { name: "Reset bob's password" });
    await reset.getByLabel("New password").fill("a brand new password");
    await reset.getByRole("button", { name: "Set password" }).click();
    await page.getByRole("status").filter({ hasText: "bob has a new password" }).waitFor();
    const login = (password: string) =>
      fetch(`${server.url}/api/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "bob", password }),
      });
    expect((await login(PASSWORD)).status).toBe(401);
    expect((await login("a brand new password")).status).toBe(200);

    await page.getByRole("button", { name: "Make admin bob" }).click();
    await confirm(page, "Make bob an admin?", "Make admin");
    await page.getByRole("status").filter({ hasText: "bob is an admin." }).waitFor();
    await page.getByRole("button", { name: "Remove admin bob" }).waitFor();
    const answer = await api(server, "/api/admin/users?q=bob", ADMIN_KEY);
    expect(((await answer.json()) as { users: { admin: boolean }[] }).users[0]?.admin).toBe(true);
  });
});

describe("admin console: sessions, rooms, notices", { timeout: 60_000 }, () => {
  it("ends a session: the other window says it was disconnected, and comes back", async () => {
    const server = await startServer();
    const alice = await chatAs(server, "alice");
    const page = await console(server);
    await section(page, "Sessions");
    const end = page.getByRole("button", { name: /^End session .* of alice$/ });
    await end.waitFor();
    expect(await end.count()).toBe(1);
    await end.click();
    await confirm(page, "End this session of alice?", "End session");
    await page
      .getByRole("status")
      .filter({ hasText: /^The session .* of alice was ended\.$/ })
      .waitFor();
    await alice.getByRole("status").filter({ hasText: "An admin ended this connection." }).waitFor();
    // Its token still counts: it reconnects and can send.
    await alice.getByRole("status").filter({ hasText: "Back online" }).waitFor({ timeout: 15_000 });
    const bob = await connect(server, "bob");
    await sendThroughUi(alice, "back after the kick");
    await waitForMessage(bob, (message) => "content" in message && message.content === "back after the kick");
  });

  it("deletes a message of a room, which becomes a tombstone in the other window", async () => {
    const server = await startServer();
    const alice = await chatAs(server, "alice");
    await sendThroughUi(alice, "please delete me");
    await messageLog(alice).getByText("please delete me").waitFor();
    const page = await console(server);
    await section(page, "Rooms");
    await page.getByRole("button", { name: "Messages of Lobby" }).click();
    const list = page.getByRole("list", { name: "Recent messages of Lobby" });
    const item = list.getByRole("listitem").filter({ hasText: "please delete me" });
    await item.getByRole("button", { name: /^Delete message \d+$/ }).click();
    await confirm(page, "Delete this message?", "Delete message");
    await page
      .getByRole("status")
      .filter({ hasText: /^Message #\d+ by alice was deleted\.$/ })
      .waitFor();
    await list.getByText("This message was deleted.").waitFor();
    // A room message deleted by an admin carries `deletedBy`: the chat says who (the key acts as `system`).
    await messageLog(alice)
      .getByText(/^This message was deleted by .+\.$/)
      .waitFor();
    expect(await messageLog(alice).getByText("please delete me").count()).toBe(0);
  });

  it("sends a notice to a user that arrives in their window", async () => {
    const server = await startServer();
    const alice = await chatAs(server, "alice");
    const page = await console(server);
    await section(page, "Send a notice");
    await page.getByLabel("User id").fill("alice");
    await page.getByLabel("Message").fill("Maintenance at 23:00 UTC.");
    await page.getByRole("button", { name: "Send notice" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: /sent to alice: delivered to 1 connection now\./ })
      .waitFor();
    await alice
      .getByRole("navigation", { name: "Conversations" })
      .getByRole("button", { name: "System, 1 unread" })
      .click();
    await messageLog(alice).locator(".system-card", { hasText: "Maintenance at 23:00 UTC." }).waitFor();

    // To everyone, and the server's error for a room that does not exist.
    await page.getByRole("radio", { name: "Everyone" }).check();
    await page.getByLabel("Message").fill("Hello all.");
    await page.getByRole("button", { name: "Send notice" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: /sent to everyone/ })
      .waitFor();
    await page.getByRole("radio", { name: "A room's members" }).check();
    await page.getByLabel("Room id").fill("no-such-room");
    await page.getByLabel("Message").fill("x");
    await page.getByRole("button", { name: "Send notice" }).click();
    await page.getByRole("alert").filter({ hasText: /room/i }).waitFor();
  });

  it("deletes a room after asking: it leaves the list, and a member's window drops it", async () => {
    const server = await startServer();
    const bob = await connect(server, "bob");
    const room = await ok(bob.socket, "room:create", { name: "Ops", visibility: "public" });
    const removed = nextEvent(bob.socket, "room:removed");
    const page = await console(server);
    await section(page, "Rooms");
    expect(await page.getByRole("button", { name: "Delete room Lobby" }).count()).toBe(0);
    await page.getByRole("button", { name: "Delete room Ops" }).click();
    await page.getByRole("dialog", { name: "Delete Ops?" }).getByRole("button", { name: "Delete room" }).click();
    await page.getByRole("status").filter({ hasText: "The room Ops was deleted." }).waitFor();
    await untilInPage(page, "![...document.querySelectorAll('td')].some((cell) => /^Ops/.test(cell.textContent))");
    expect(await removed).toMatchObject({ roomId: room.id, kind: "deleted" });
  });

  it("reads the audit entries of admin actions, with filters", async () => {
    const server = await startServer();
    for (const id of ["bob", "carol"]) await api(server, "/api/me", signToken(id));
    await api(server, "/api/admin/users/bob/disable", ADMIN_KEY, { method: "POST" });
    await api(server, "/api/admin/users/carol/sign-out", ADMIN_KEY, { method: "POST" });
    const page = await console(server);
    await section(page, "Audit log");
    await page.getByRole("cell", { name: "user.disable" }).waitFor();
    await page.getByRole("cell", { name: "user.sign-out" }).waitFor();
    const filters = page.getByRole("form", { name: "Filter the audit log" });
    await filters.getByLabel("Target user").fill("bob");
    await filters.getByRole("button", { name: "Filter" }).click();
    await untilInPage(page, "!document.body.textContent.includes('user.sign-out')");
    await page.getByRole("cell", { name: "user.disable" }).waitFor();
    await filters.getByLabel("Target user").fill("nobody");
    await filters.getByRole("button", { name: "Filter" }).click();
    await page.getByText("No entries.").waitFor();
  });

  it("fits a 360 px wide screen: no sideways scrolling, tables as cards", async () => {
    const server = await startServer();
    await connect(server, "alice");
    const page = await console(server, { width: 360 });
    await section(page, "Users");
    await page.getByRole("cell", { name: /@alice/ }).waitFor();
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(360);
    expect(await page.evaluate("document.querySelector('.admin').scrollWidth")).toBeLessThanOrEqual(360);
    await screenshot(page, "admin-phone-users");
  });
});

describe("admin console: webhooks", { timeout: 60_000 }, () => {
  it("adds an endpoint (secret shown once), lists its deliveries, retries one, and removes it", async () => {
    const server = await startServer();
    const hook = await startReceiver(() => 503);
    try {
      const page = await console(server);
      await section(page, "Webhooks");
      await page.getByText("No endpoint: events are not sent anywhere.", { exact: false }).waitFor();
      await page.getByLabel("URL").fill(hook.url);
      await page.getByRole("checkbox", { name: "message.created" }).check();
      await page.getByRole("button", { name: "Add endpoint" }).click();
      await page.getByRole("status").filter({ hasText: "was added" }).waitFor();
      const secret = (await page.locator(".admin-secret-value").textContent()) ?? "";
      expect(secret).toMatch(/^whsec_/);
      await page.getByRole("button", { name: "I have saved it" }).click();
      expect(await page.locator(".admin-secret-value").count()).toBe(0);
      const endpoints = page.getByRole("table", { name: "Webhook endpoints" });
      await endpoints.getByRole("row", { name: new RegExp(`${hook.url}.*message\\.created`) }).waitFor();

      // An event is sent, signed with the secret shown; the receiver answers 503, so it stays pending.
      const alice = await connect(server, "alice");
      await ok(alice.socket, "message:send", { messageType: "group", mediaType: "text", to: "lobby", content: "hi" });
      await until(() => hook.received.length >= 1);
      expect(signatureValid(secret, hook.received[0]!)).toBe(true);
      await page.getByRole("button", { name: `Deliveries to ${hook.url}` }).click();
      const deliveries = page.getByRole("table", { name: `Deliveries to ${hook.url}` });
      await deliveries.getByRole("row", { name: /message\.created.*pending.*HTTP 503/ }).waitFor();
      await screenshot(page, "admin-webhooks");

      // Retry once the receiver is fine: delivered.
      hook.answer(() => 204);
      await deliveries.getByRole("button", { name: /^Retry message\.created/ }).click();
      await page.getByRole("status").filter({ hasText: "will be sent again now" }).waitFor();
      const delivered = deliveries.getByRole("row", { name: /message\.created.*delivered.*HTTP 204/ });
      for (let tries = 0; (await delivered.count()) === 0; tries++) {
        expect(tries, "delivered after the retry").toBeLessThan(50);
        await new Promise((resolve) => setTimeout(resolve, 100));
        await page.getByRole("button", { name: "Refresh" }).click();
      }

      await page.getByRole("button", { name: `Remove ${hook.url}` }).click();
      await confirm(page, "Remove this endpoint?", "Remove");
      await page
        .getByRole("status")
        .filter({ hasText: `The endpoint ${hook.url} was removed.` })
        .waitFor();
      await page.getByText("No endpoint: events are not sent anywhere.", { exact: false }).waitFor();
      expect(await deliveries.count()).toBe(0);
    } finally {
      await hook.close();
    }
  });

  it("refuses a URL that is not HTTP(S) with the server's message and adds nothing", async () => {
    const server = await startServer();
    const page = await console(server);
    await section(page, "Webhooks");
    // The input's own type=url check lets ftp: through; the server answers INVALID_PAYLOAD.
    await page.getByLabel("URL").fill("ftp://example.com/hook");
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await page.getByRole("alert").filter({ hasText: "HTTP or HTTPS" }).waitFor();
    expect(await page.locator(".admin-secret-value").count()).toBe(0);
    await page.getByText("No endpoint: events are not sent anywhere.", { exact: false }).waitFor();
  });
});

describe("account in the chat", { timeout: 60_000 }, () => {
  it("changes the password: the old token is refused, the new one works, and this window stays signed in", async () => {
    const server = await startServer();
    const alice = await registered(server, "alice");
    const old = await tokenOf(alice);
    await alice.getByRole("button", { name: /^Profile and settings/ }).click();
    await alice
      .getByRole("dialog", { name: "Profile and settings" })
      .getByRole("button", { name: "Change password…" })
      .click();
    const dialog = alice.getByRole("dialog", { name: "Change password" });
    await dialog.getByLabel("Current password").fill("not my password");
    await dialog.getByLabel("New password").fill("battery staple horse");
    await dialog.getByRole("button", { name: "Change password" }).click();
    await dialog
      .getByRole("alert")
      .filter({ hasText: /current password is wrong/ })
      .waitFor();
    await dialog.getByLabel("Current password").fill(PASSWORD);
    await dialog.getByRole("button", { name: "Change password" }).click();
    await dialog.waitFor({ state: "detached" });
    await alice.getByRole("status").filter({ hasText: "Your password was changed." }).waitFor();

    const fresh = await tokenOf(alice);
    expect(fresh).not.toBe(old);
    expect((await api(server, "/api/me", old)).status).toBe(401);
    expect((await api(server, "/api/me", fresh)).status).toBe(200);
    // Still signed in and connected with the new token: a message goes through.
    const bob = await connect(server, "bob");
    await untilInPage(alice, "!document.querySelector('.auth')");
    await expect.poll(() => composer(alice).isEnabled()).toBe(true);
    await sendThroughUi(alice, "after the change");
    await waitForMessage(bob, (message) => "content" in message && message.content === "after the change", 15_000);
    expect(await alice.locator(".auth").count()).toBe(0);
  });

  it("signs out everywhere: the other window of the user returns to the sign-in screen", async () => {
    const server = await startServer();
    const first = await registered(server, "alice");
    const { page: second } = await openInBrowser(server.url);
    await second.getByLabel("Username").fill("alice");
    await second.getByLabel("Password").fill(PASSWORD);
    await second.getByLabel("Password").press("Enter");
    await second.getByRole("heading", { level: 1, name: "Lobby" }).waitFor();
    const tokens = [await tokenOf(first), await tokenOf(second)];

    await first.getByRole("button", { name: /^Profile and settings/ }).click();
    await first
      .getByRole("dialog", { name: "Profile and settings" })
      .getByRole("button", { name: "Sign out everywhere…" })
      .click();
    await confirm(first, "Sign out everywhere?", "Sign out everywhere");
    await signInNote(first).filter({ hasText: "You were signed out everywhere." }).waitFor();
    await signInNote(second).filter({ hasText: "You were signed out." }).waitFor();
    for (const token of tokens) expect((await api(server, "/api/me", token)).status).toBe(401);
  });

  it("signs its token out on the server when the user logs out", async () => {
    const server = await startServer();
    const alice = await registered(server, "alice");
    const token = await tokenOf(alice);
    const watcher = await connect(server, { token });
    const ended = nextEvent(watcher.socket, "server:notice");
    await alice.getByRole("button", { name: "Log out" }).click();
    await alice.getByRole("heading", { level: 1, name: "Welcome" }).waitFor();
    expect((await ended).reason).toBe("signed-out");
    expect((await api(server, "/api/me", token)).status).toBe(401);
  });
});
