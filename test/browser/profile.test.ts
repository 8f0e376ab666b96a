import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { makePng, messageLog, screenshot, sendThroughUi, useBrowser } from "../support/browser.js";
import { connect, ok, signToken, startServer, type TestServer } from "../support/harness.js";

// Issue 14: the profile and settings dialog (display name, avatar cropped in the browser, read receipts,
// notification choices) and avatars wherever initials were shown.

const openInBrowser = useBrowser();

/** Opens the web client signed in as `id` and waits for the lobby. */
async function user(server: TestServer, id: string): Promise<Page> {
  const opened = await openInBrowser(server.url, { session: { token: signToken(id), user: { id, name: id } } });
  await opened.page.getByRole("heading", { level: 1, name: "Lobby" }).waitFor();
  return opened.page;
}

const dialogOf = (page: Page) => page.getByRole("dialog", { name: "Profile and settings" });

/** Opens the dialog from the user's own badge and waits until the server's settings are in. */
async function openProfile(page: Page) {
  await page.getByRole("button", { name: /^Profile and settings/ }).click();
  const dialog = dialogOf(page);
  await dialog
    .getByRole("checkbox", { name: /^Send read receipts/ })
    .and(dialog.locator(":enabled"))
    .waitFor();
  return dialog;
}

const membersPanel = (page: Page) => page.getByRole("complementary");

/** Width and height of a PNG, from its IHDR chunk. */
const pngSize = (bytes: Buffer) => ({ width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) });

describe("profile and settings", { timeout: 60_000 }, () => {
  it("changes the display name and the avatar (a wide picture cropped to a square here), which another user's window shows in its member list and beside messages", async () => {
    const server = await startServer();
    const bob = await user(server, "bob");
    const alice = await user(server, "alice");
    await sendThroughUi(bob, "hello from bob");
    await messageLog(alice).getByText("hello from bob").waitFor();

    const dialog = await openProfile(bob);
    // Focus moves into the dialog, onto the name field.
    expect(await bob.evaluate("document.activeElement && document.activeElement.getAttribute('name')")).toBe("name");
    const name = dialog.getByRole("textbox", { name: "Display name" });
    expect(await name.inputValue()).toBe("bob");
    await name.fill("Bobby Tables");
    const chooser = bob.waitForEvent("filechooser");
    await dialog.getByRole("button", { name: "Choose a picture…" }).click();
    await (await chooser).setFiles({ name: "wide.png", mimeType: "image/png", buffer: makePng(240, 120) });
    await dialog.getByRole("img", { name: "Preview of your new picture" }).waitFor();
    // Zoom in a little and move right, with the keyboard.
    await dialog.getByRole("slider", { name: "Zoom" }).focus();
    for (let i = 0; i < 20; i += 1) await bob.keyboard.press("ArrowRight");
    await dialog.getByRole("slider", { name: "Left – right" }).focus();
    await bob.keyboard.press("End");
    await screenshot(bob, "profile-dialog");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });

    // Alice's window, untouched: she follows Bob's presence (he is in her member list), so user:updated
    // brings the new name live (before anything else could make her reload the member list).
    await membersPanel(alice).getByRole("button", { name: "Message Bobby Tables, online", exact: true }).waitFor();

    // The server has the new name and a square avatar made here.
    const carol = await connect(server, "carol");
    const members = await ok(carol.socket, "room:members", { roomId: "lobby" });
    const entry = members.members.find((member) => member.userId === "bob");
    expect(entry).toMatchObject({ name: "Bobby Tables", avatarUrl: expect.stringMatching(/^\/files\//) });
    const url = entry!.avatarUrl!;
    const image = Buffer.from(await (await fetch(`${server.url}${url}`)).arrayBuffer());
    expect(pngSize(image)).toEqual({ width: 256, height: 256 });

    // Bob's own badge follows at once.
    const badge = bob.getByRole("button", { name: "Profile and settings (Bobby Tables)" });
    await badge.waitFor();
    expect(await badge.locator("img").getAttribute("src")).toBe(url);

    // And the picture, to the member list and to his message.
    const row = membersPanel(alice).getByRole("button", { name: "Message Bobby Tables, online", exact: true });
    await row.waitFor();
    expect(await row.locator(".avatar img").getAttribute("src")).toBe(url);
    const message = messageLog(alice).locator("li.msg", { hasText: "hello from bob" });
    await message.locator(".msg-author", { hasText: "Bobby Tables" }).waitFor();
    expect(await message.locator(".avatar img").getAttribute("src")).toBe(url);
    // Members without a picture keep their initial.
    const self = membersPanel(alice).getByRole("button", { name: /^alice \(you\)/ });
    expect(await self.locator(".avatar img").count()).toBe(0);
    expect(await self.locator(".avatar").innerText()).toBe("A");
    await screenshot(alice, "desktop-avatars");

    // A direct conversation with Bob shows his avatar in Alice's sidebar.
    await row.click();
    await alice.getByRole("heading", { level: 1, name: "Bobby Tables" }).waitFor();
    const direct = alice
      .getByRole("navigation", { name: "Conversations" })
      .getByRole("button", { name: /^Bobby Tables, online/ });
    expect(await direct.locator(".avatar img").getAttribute("src")).toBe(url);
  });

  it("turns read receipts off and on again, as the server keeps them, and keeps the sound choice in this browser", async () => {
    const server = await startServer();
    const bob = await user(server, "bob");
    const other = await connect(server, "bob");

    let dialog = await openProfile(bob);
    const receipts = () => dialog.getByRole("checkbox", { name: /^Send read receipts/ });
    expect(await receipts().isChecked()).toBe(true);
    await receipts().uncheck();
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    expect(await ok(other.socket, "user:update", {})).toMatchObject({ readReceipts: false });

    dialog = await openProfile(bob);
    expect(await receipts().isChecked()).toBe(false);
    await receipts().check();
    await dialog.getByRole("checkbox", { name: "Play a sound with each notification" }).check();
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    expect(await ok(other.socket, "user:update", {})).toMatchObject({ readReceipts: true });

    // The sound is this browser's choice: it is still on after a reload.
    await bob.reload();
    dialog = await openProfile(bob);
    expect(await dialog.getByRole("checkbox", { name: "Play a sound with each notification" }).isChecked()).toBe(true);
  });

  it("shows the server's error for a name that is too long, stays open and changes nothing; Escape closes it", async () => {
    const server = await startServer();
    const bob = await user(server, "bob");
    const other = await connect(server, "bob");

    const dialog = await openProfile(bob);
    await dialog.getByRole("textbox", { name: "Display name" }).fill("b".repeat(65));
    await dialog.getByRole("checkbox", { name: /^Send read receipts/ }).uncheck();
    await dialog.getByRole("button", { name: "Save" }).click();
    const alert = dialog.getByRole("alert");
    await alert.filter({ hasText: /name/ }).waitFor();
    expect(await alert.innerText()).toMatch(/1-64/);
    expect(await ok(other.socket, "user:update", {})).toEqual({ id: "bob", name: "bob", readReceipts: true });
    await bob.getByRole("button", { name: "Profile and settings (bob)" }).waitFor({ state: "attached" });

    await bob.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    expect(await ok(other.socket, "user:update", {})).toEqual({ id: "bob", name: "bob", readReceipts: true });
  });

  it("removes the avatar, back to the initial", async () => {
    const server = await startServer();
    const bob = await user(server, "bob");
    const other = await connect(server, "bob");
    const upload = new FormData();
    upload.append("file", new Blob([makePng(8, 8)], { type: "image/png" }), "me.png");
    const response = await fetch(`${server.url}/api/files`, {
      method: "POST",
      headers: { authorization: `Bearer ${signToken("bob")}` },
      body: upload,
    });
    const file = (await response.json()) as { fileId: string; url: string };
    await ok(other.socket, "user:update", { avatarFileId: file.fileId });
    // The session of the next connect brings it.
    await bob.reload();
    const badge = bob.getByRole("button", { name: "Profile and settings (bob)" });
    await badge.locator(`img[src="${file.url}"]`).waitFor();

    const dialog = await openProfile(bob);
    await dialog.getByRole("button", { name: "Remove picture" }).click();
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    expect(await ok(other.socket, "user:update", {})).toEqual({ id: "bob", name: "bob", readReceipts: true });
    expect(await badge.locator(".avatar img").count()).toBe(0);
    expect(await badge.locator(".avatar").innerText()).toBe("B");
  });
});
