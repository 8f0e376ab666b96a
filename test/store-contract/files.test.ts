import { describe, expect, it } from "vitest";
import type { AppendResult, FileCursor, Store } from "../../server/store/types.js";
import { addUsers, describeStores, single, tick, upload } from "../support/stores.js";

/** An image message from alice to bob holding file `fileId`. */
const holding = (fileId: string) => single("alice", "bob", { mediaType: "image", content: undefined, fileId });

/** Runs the orphan sweep from the start to its end in batches of `limit`: each batch's marks and cursor. */
async function sweep(store: Store, before: number, limit: number) {
  const batches: { marked: string[]; next: FileCursor | undefined }[] = [];
  let after: FileCursor | undefined;
  do {
    const batch = await store.markOrphanFiles(after, before, tick(), limit);
    batches.push({ marked: [...batch.marked].sort(), next: batch.next });
    after = batch.next;
  } while (after !== undefined && batches.length < 20);
  return batches;
}

/** An append's outcome: stored, or the error code it was refused with. */
const outcome = (settled: PromiseSettledResult<AppendResult>) =>
  settled.status === "fulfilled" ? "stored" : (settled.reason as { code?: string }).code;

describeStores("Store contract: files", (open) => {
  it("stores a file and reads it back while it is live", async () => {
    const store = await open();
    const file = upload("F1", "alice", { name: "cat.png", size: 1234 });
    await store.createFile(file);
    expect(await store.getFile("F1")).toEqual(file);
    expect(await store.getFile("nothing")).toBeUndefined();
    expect(await store.fileBytesOf("alice")).toBe(1234);
    expect(await store.fileBytesOf("bob")).toBe(0);
  });

  it("admits a file while the owner's live files and it fit the quota, and refuses one byte more", async () => {
    const store = await open();
    expect(await store.createFileWithinQuota(upload("a1", "alice", { size: 60 }), 100)).toBe(true);
    expect(await store.createFileWithinQuota(upload("a2", "alice", { size: 40 }), 100)).toBe(true);
    expect(await store.createFileWithinQuota(upload("a3", "alice", { size: 1 }), 100)).toBe(false);
    expect(await store.getFile("a3")).toBeUndefined();
    expect(await store.fileBytesOf("alice")).toBe(100);
    // Another owner's files are not counted; released files no longer are.
    expect(await store.createFileWithinQuota(upload("b1", "bob", { size: 100 }), 100)).toBe(true);
    expect(await store.releaseFile("a1", tick())).toBe(true);
    expect(await store.fileBytesOf("alice")).toBe(40);
    expect(await store.createFileWithinQuota(upload("a4", "alice", { size: 60 }), 100)).toBe(true);
    expect(await store.getFile("a4")).toMatchObject({ size: 60 });
  });

  it("releases a file no message or avatar holds, once", async () => {
    const store = await open();
    await store.createFile(upload("F", "alice", { size: 7 }));
    expect(await store.releaseFile("F", tick())).toBe(true);
    expect(await store.getFile("F")).toBeUndefined();
    expect(await store.fileBytesOf("alice")).toBe(0);
    expect(await store.releaseFile("F", tick())).toBe(false);
    expect(await store.releaseFile("nothing", tick())).toBe(false);
  });

  it("refuses to release a file while a message holds it, and releases it once that message is deleted", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    await store.createFile(upload("F", "alice"));
    const { message } = await store.appendMessage(holding("F"));
    expect(await store.releaseFile("F", tick())).toBe(false);
    expect(await store.getFile("F")).toBeDefined();
    await store.deleteMessage(message.id, { author: "alice", at: tick() });
    expect(await store.releaseFile("F", tick())).toBe(true);
  });

  it("refuses to release a user's avatar, and releases it once the avatar is removed", async () => {
    const store = await open();
    await addUsers(store, "alice");
    await store.createFile(upload("A", "alice"));
    await store.updateUser("alice", { avatarFileId: "A" });
    expect(await store.releaseFile("A", tick())).toBe(false);
    await store.updateUser("alice", { avatarFileId: null });
    expect(await store.releaseFile("A", tick())).toBe(true);
  });

  it("holds a file for a message appended just before the release, without awaiting it", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    await store.createFile(upload("F", "alice"));
    const appended = store.appendMessage(holding("F"));
    expect(await store.releaseFile("F", tick())).toBe(false);
    expect((await appended).message.fileId).toBe("F");
  });

  it("sweeps orphans by age in batches: skips held files and files not older than `before`, ties included", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    const files: [string, number][] = [
      ["o1", 100],
      ["held", 110],
      ["o2", 120],
      ["avatar", 130],
      ["t1", 130],
      ["o3", 140],
      ["edge", 150],
      ["young", 200],
    ];
    for (const [id, createAt] of files) await store.createFile(upload(id, "alice", { createAt }));
    await store.appendMessage(holding("held"));
    await store.updateUser("alice", { avatarFileId: "avatar" });
    expect(await sweep(store, 150, 2)).toEqual([
      { marked: ["o1"], next: { createAt: 110, id: "held" } },
      { marked: ["o2"], next: { createAt: 130, id: "avatar" } },
      // A cursor on the time alone would skip t1, created in the same millisecond as the avatar.
      { marked: ["o3", "t1"], next: { createAt: 140, id: "o3" } },
      { marked: [], next: undefined },
    ]);
    for (const id of ["held", "avatar", "edge", "young"]) expect(await store.getFile(id), id).toBeDefined();
    for (const id of ["o1", "o2", "t1", "o3"]) expect(await store.getFile(id), id).toBeUndefined();
    expect((await store.markedFiles(10)).sort()).toEqual(["o1", "o2", "o3", "t1"]);
  });

  it("does not mark a released file again in a sweep", async () => {
    const store = await open();
    await store.createFile(upload("gone", "alice", { createAt: 100 }));
    await store.createFile(upload("orphan", "alice", { createAt: 101 }));
    expect(await store.releaseFile("gone", tick())).toBe(true);
    const marked = (await sweep(store, 1000, 10)).flatMap((batch) => batch.marked);
    expect(marked).toEqual(["orphan"]);
  });

  it("lists marked files at most `limit`, and forgets their rows, never a live file's", async () => {
    const store = await open();
    for (const id of ["m1", "m2", "m3", "live"]) await store.createFile(upload(id, "alice"));
    for (const id of ["m1", "m2", "m3"]) await store.releaseFile(id, tick());
    expect(await store.markedFiles(2)).toHaveLength(2);
    expect((await store.markedFiles(10)).sort()).toEqual(["m1", "m2", "m3"]);
    await store.forgetFiles(["m1", "m2", "live"]);
    expect(await store.markedFiles(10)).toEqual(["m3"]);
    expect(await store.getFile("live")).toBeDefined();
    await store.forgetFiles([]);
    expect(await store.markedFiles(10)).toEqual(["m3"]);
  });

  describe("with many calls in flight at once", () => {
    it("never lets simultaneous uploads pass the owner's quota together", async () => {
      const store = await open();
      await store.createFile(upload("old", "alice", { size: 2 }));
      const admitted = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.createFileWithinQuota(upload(`f${i}`, "alice", { size: 7 }), 100)),
      );
      // 2 + 14 × 7 = 100: exactly the uploads that fit, whatever order they were written in.
      expect(admitted.filter(Boolean)).toHaveLength(14);
      expect(await store.fileBytesOf("alice")).toBe(100);
    });

    it("settles a release racing an append of its file one way: the message holds it, or the append is refused", async () => {
      const store = await open();
      await addUsers(store, "alice", "bob");
      const fileIds = Array.from({ length: 10 }, (_, i) => `f${i}`);
      for (const id of fileIds) await store.createFile(upload(id, "alice"));
      const races = fileIds.map((id, i) => {
        // Half of them call the release first, half the append.
        const release = i % 2 === 0 ? undefined : store.releaseFile(id, tick());
        const append = Promise.allSettled([store.appendMessage(holding(id))]);
        return Promise.all([append, release ?? store.releaseFile(id, tick())]);
      });
      for (const [i, [[appended], released]] of (await Promise.all(races)).entries()) {
        const id = fileIds[i]!;
        if (released) {
          expect(outcome(appended!), id).toBe("NOT_FOUND");
          expect(await store.getFile(id), id).toBeUndefined();
        } else {
          expect(outcome(appended!), id).toBe("stored");
          expect(await store.getFile(id), id).toBeDefined();
        }
      }
    });

    it("settles a sweep racing appends of its files one way per file: marked, or held by the message", async () => {
      const store = await open();
      await addUsers(store, "alice", "bob");
      const fileIds = Array.from({ length: 10 }, (_, i) => `f${i}`);
      for (const [i, id] of fileIds.entries()) await store.createFile(upload(id, "alice", { createAt: 100 + i }));
      const first = fileIds.slice(0, 5).map((id) => Promise.allSettled([store.appendMessage(holding(id))]));
      const swept = store.markOrphanFiles(undefined, 1000, tick(), 100);
      const rest = fileIds.slice(5).map((id) => Promise.allSettled([store.appendMessage(holding(id))]));
      const appended = (await Promise.all([...first, ...rest])).map(([settled]) => outcome(settled!));
      const { marked } = await swept;
      for (const [i, id] of fileIds.entries()) {
        expect(appended[i], id).toBe(marked.includes(id) ? "NOT_FOUND" : "stored");
      }
    });
  });
});
