import { h, type Child } from "./dom.js";

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });
const yearDayFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "long", year: "numeric" });

/** `14:05` */
export const formatTime = (ms: number): string => timeFormat.format(ms);

/** `Monday, 3 November 2025 at 14:05`, for tooltips. */
export const formatFull = (ms: number): string => fullFormat.format(ms);

/** A local calendar day, as a key. */
export const dayKey = (ms: number): string => {
  const date = new Date(ms);
  return `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`;
};

/** `Today`, `Yesterday`, `Monday, 3 November`, or with the year when it is not this one. */
export function formatDay(ms: number, now = Date.now()): string {
  if (dayKey(ms) === dayKey(now)) return "Today";
  if (dayKey(ms) === dayKey(now - 86_400_000)) return "Yesterday";
  return new Date(ms).getFullYear() === new Date(now).getFullYear() ? dayFormat.format(ms) : yearDayFormat.format(ms);
}

/** `1.4 MB` */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+[^\s<>"'`.,;:!?)\]]/g;

/**
 * Text with its http(s) URLs as links. Only absolute http and https URLs become links (so `javascript:` never
 * does); everything else stays a text node.
 */
export function linkify(text: string): Child[] {
  const parts: Child[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const start = match.index;
    let url: URL | undefined;
    try {
      url = new URL(match[0]);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
    if (start > last) parts.push(text.slice(last, start));
    parts.push(h("a", { href: url.href, target: "_blank", rel: "noopener noreferrer nofollow" }, match[0]));
    last = start + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

/** The first letter of a name, for avatars. */
export const initial = (name: string): string => (Array.from(name.trim())[0] ?? "?").toUpperCase();

/** A stable hue for a user id, for avatar colours. */
export function hueOf(id: string): number {
  let hash = 0;
  for (let i = 0; i < id.length; i += 1) hash = (hash * 31 + id.charCodeAt(i)) | 0;
  return Math.abs(hash) % 360;
}

/** `just now`, `5 min ago`, `3 h ago`, `yesterday`, or the day, for "last seen". */
export function formatAgo(ms: number, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 60) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  if (dayKey(ms) === dayKey(now - 86_400_000)) return "yesterday";
  return `on ${formatDay(ms, now)}`;
}
