import { open } from "node:fs/promises";
import { fileTypeFromBuffer } from "file-type";

/** Content types shown inline as images; everything else is served as an attachment. */
const IMAGE_MIMES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

/** What the content of a file says it is. */
export interface Sniffed {
  mime: string;
  mediaType: "image" | "file";
}

/** Reads the magic bytes at the head of a file (never its name) to tell its type. */
export async function sniffFile(path: string): Promise<Sniffed> {
  const handle = await open(path, "r");
  try {
    const head = Buffer.alloc(4100);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const type = await fileTypeFromBuffer(head.subarray(0, bytesRead));
    const mime = type?.mime ?? "application/octet-stream";
    return { mime, mediaType: IMAGE_MIMES.has(mime) ? "image" : "file" };
  } finally {
    await handle.close();
  }
}

/** Makes a client's file name safe to store and show: no path, no control or bidi characters, bounded. */
export function cleanFileName(raw: string | undefined): string {
  const base = (raw ?? "").split(/[/\\]/).pop() ?? "";
  // eslint-disable-next-line no-control-regex
  const cleaned = base.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, "").trim();
  const bounded = cleaned.slice(0, 200);
  return bounded === "" || bounded === "." || bounded === ".." ? "file" : bounded;
}
