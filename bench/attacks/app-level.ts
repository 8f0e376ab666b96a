/**
 * Application-level attacks of issue 12 against a running server (loopback only, bounded): send order in one
 * TCP write, delete-then-edit in one write, a clientMsgId resend after leaving, a reaction flood, `__proto__`
 * as a reaction key, lone surrogates, a reserved display name. Prints one line per attack.
 *
 * Usage: JWT_SECRET=<the server's> npx tsx bench/attacks/app-level.ts http://127.0.0.1:3000
 */
import jwt from "jsonwebtoken";
import WebSocket from "ws";

const base = process.argv[2] ?? "http://127.0.0.1:3000";
if (!/^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(base)) throw new Error("loopback targets only");
const secret = process.env["JWT_SECRET"];
if (!secret) throw new Error("set JWT_SECRET to the server's secret");
const token = (sub: string) => jwt.sign({}, secret, { algorithm: "HS256", subject: sub, expiresIn: 600 });
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
  "base64",
);

/** A raw Socket.IO client: requests in one TCP write, acks by id, bytes received counted. */
class Raw {
  bytes = 0;
  private ack = 1;
  private readonly acks = new Map<number, (value: unknown) => void>();
  readonly events: unknown[][] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data: Buffer) => {
      this.bytes += data.length;
      const frame = data.toString();
      if (frame === "2") return ws.send("3");
      const ack = /^43(\d+)/.exec(frame);
      if (ack) {
        const id = Number(ack[1]);
        this.acks.get(id)?.((JSON.parse(frame.slice(2 + ack[1]!.length)) as unknown[])[0]);
        this.acks.delete(id);
      } else if (frame.startsWith("42")) this.events.push(JSON.parse(frame.slice(2)) as unknown[]);
    });
  }

  static async open(user: string): Promise<Raw> {
    const ws = new WebSocket(`${base.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`);
    const raw = new Raw(ws);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    ws.send(`40${JSON.stringify({ token: token(user) })}`);
    await new Promise<void>((resolve) => {
      const check = () => (raw.events.some((e) => e[0] === "session") ? resolve() : setTimeout(check, 5));
      check();
    });
    return raw;
  }

  /** Sends all requests in one TCP write and resolves their answers in request order. */
  batch(requests: [string, unknown][]): Promise<unknown[]> {
    const tcp = (this.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    tcp.cork();
    const answers = requests.map(([event, payload]) => {
      const id = this.ack++;
      this.ws.send(`42${id}${JSON.stringify([event, payload])}`);
      return new Promise((resolve) => this.acks.set(id, resolve));
    });
    tcp.uncork();
    return Promise.all(answers);
  }

  // The answers of many events are read loosely here: this is an attack script, not a client.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async call(event: string, payload: unknown): Promise<{ ok: boolean; data?: any; error?: { code: string } }> {
    return (await this.batch([[event, payload]]))[0] as { ok: boolean };
  }

  close(): void {
    this.ws.terminate();
  }
}

async function upload(user: string): Promise<string> {
  const form = new FormData();
  form.append("file", new Blob([new Uint8Array(PNG)]), "dot.png");
  const response = await fetch(`${base}/api/files`, {
    method: "POST",
    headers: { authorization: `Bearer ${token(user)}` },
    body: form,
  });
  return ((await response.json()) as { fileId: string }).fileId;
}

const tag = `${Date.now().toString(36)}`;
const report = (name: string, result: string) => console.log(`${name}: ${result}`);

// 1. Send order: [image, text] in one TCP write, 20 times.
{
  const alice = await Raw.open(`order-${tag}`);
  let swapped = 0;
  for (let i = 0; i < 20; i += 1) {
    const fileId = await upload(`order-${tag}`);
    const [image, text] = (await alice.batch([
      ["message:send", { messageType: "group", mediaType: "image", to: "lobby", fileId }],
      ["message:send", { messageType: "group", mediaType: "text", to: "lobby", content: `after image ${i}` }],
    ])) as { data: { id: number } }[];
    if (text!.data.id < image!.data.id) swapped += 1;
  }
  report("order: [image, text] in one write, 20 rounds", `${swapped}/20 stored text before image`);
  alice.close();
}

// 2. Delete then edit of the same message in one write, 20 times.
{
  const alice = await Raw.open(`tomb-${tag}`);
  let restored = 0;
  const answers: string[] = [];
  for (let i = 0; i < 20; i += 1) {
    const sent = await alice.call("message:send", {
      messageType: "single",
      mediaType: "text",
      to: `tomb-${tag}`,
      content: "secret",
    });
    const [, edit] = (await alice.batch([
      ["message:delete", { id: sent.data.id }],
      ["message:edit", { id: sent.data.id, content: "back from the dead" }],
    ])) as { ok: boolean; error?: { code: string } }[];
    answers.push(edit!.ok ? "ok" : edit!.error!.code);
    const page = await alice.call("history:list", { user: `tomb-${tag}`, limit: 1 });
    if (page.data.messages[0].content !== undefined) restored += 1;
  }
  report(
    "delete then edit in one write, 20 times",
    `${restored}/20 tombstones got content back; edit answered ${[...new Set(answers)].join(",")}`,
  );
  alice.close();
}

// 3. A clientMsgId resend after leaving the room.
{
  const alice = await Raw.open(`resend-${tag}`);
  const room = await alice.call("room:create", { name: "short-lived" });
  const payload = {
    messageType: "group",
    mediaType: "text",
    to: room.data.id,
    content: "once",
    clientMsgId: `k-${tag}`,
  };
  const first = await alice.call("message:send", payload);
  await alice.call("room:leave", { roomId: room.data.id });
  const again = await alice.call("message:send", payload);
  report(
    "clientMsgId resend after leaving the room",
    again.ok
      ? `answered the first message (same id: ${again.data.id === first.data.id})`
      : `refused ${again.error!.code}`,
  );
  alice.close();
}

// 4. Reaction flood: 10 accounts try 100 distinct keys each on one message; one listener counts bytes.
{
  const author = await Raw.open(`rx-author-${tag}`);
  const listener = await Raw.open(`rx-listener-${tag}`);
  const sent = await author.call("message:send", {
    messageType: "group",
    mediaType: "text",
    to: "lobby",
    content: "react".repeat(16),
  });
  const accounts = await Promise.all(Array.from({ length: 10 }, (_, i) => Raw.open(`rx-${i}-${tag}`)));
  const before = listener.bytes;
  const started = performance.now();
  let sentBytes = 0;
  let accepted = 0;
  await Promise.all(
    accounts.map(async (account, a) => {
      for (let k = 0; k < 100; k += 1) {
        const payload = { id: sent.data.id, emoji: `k${a}-${k}-${"x".repeat(24)}`, on: true };
        sentBytes += JSON.stringify(["message:react", payload]).length + 4;
        if ((await account.call("message:react", payload)).ok) accepted += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 300));
  report(
    "reaction flood, 10 accounts x 100 keys",
    `${accepted} keys accepted in ${seconds.toFixed(1)} s; the listener received ${((listener.bytes - before) / 1e6).toFixed(2)} MB for ${(sentBytes / 1e3).toFixed(0)} KB sent`,
  );
  for (const raw of [author, listener, ...accounts]) raw.close();
}

// 5. `__proto__` as a reaction key.
{
  const alice = await Raw.open(`proto-${tag}`);
  const bob = await Raw.open(`proto-b-${tag}`);
  const sent = await alice.call("message:send", {
    messageType: "single",
    mediaType: "text",
    to: `proto-b-${tag}`,
    content: "x",
  });
  const reacted = await bob.call("message:react", { id: sent.data.id, emoji: "__proto__", on: true });
  const page = await alice.call("history:list", { user: `proto-b-${tag}`, limit: 1 });
  const stored = page.data.messages[0];
  report(
    "__proto__ as a reaction key",
    `rev ${sent.data.id} -> ${reacted.data?.rev ?? "?"}; stored reactions ${JSON.stringify(stored.reactions ?? null)}`,
  );
  alice.close();
  bob.close();
}

// 6. Lone surrogates and a reserved display name.
{
  const alice = await Raw.open(`text-${tag}`);
  const sent = await alice.call("message:send", {
    messageType: "single",
    mediaType: "text",
    to: `text-${tag}`,
    content: "x\ud800y",
  });
  const page = await alice.call("history:list", { user: `text-${tag}`, limit: 1 });
  report(
    "lone surrogate in content",
    sent.ok
      ? `acked ${JSON.stringify(sent.data.content)}, history ${JSON.stringify(page.data.messages[0]?.content)}`
      : `refused ${sent.error!.code}`,
  );
  const named = await alice.call("user:update", { name: "System" });
  report("display name System", named.ok ? `accepted (${named.data.name})` : `refused ${named.error!.code}`);
  alice.close();
}
process.exit(0);
