const SIZE = 32;

let shown: string | undefined;

/** The favicon link this module owns (index.html's empty one, or a new one). */
function iconLink(): HTMLLinkElement {
  let link = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
  if (!link) {
    link = document.createElement("link");
    link.rel = "icon";
    document.head.appendChild(link);
  }
  return link;
}

/** The app's mark with, when there is something unread, a red badge holding the count (or `@`). */
function drawIcon(label: string): string {
  const canvas = document.createElement("canvas");
  canvas.width = SIZE;
  canvas.height = SIZE;
  const g = canvas.getContext("2d");
  if (!g) return "data:,";
  g.fillStyle = "#4f46e5";
  g.beginPath();
  g.roundRect(2, 4, 24, 20, 6);
  g.fill();
  if (label !== "") {
    g.fillStyle = "#dc2626";
    g.beginPath();
    g.arc(SIZE - 10, 10, 10, 0, Math.PI * 2);
    g.fill();
    g.fillStyle = "#fff";
    g.font = `bold ${label.length > 1 ? 11 : 14}px sans-serif`;
    g.textAlign = "center";
    g.textBaseline = "middle";
    g.fillText(label, SIZE - 10, 11);
  }
  return canvas.toDataURL("image/png");
}

/**
 * Shows the unread count in the tab title (`(3) Chat`) and as a badge on the favicon; zero clears both.
 * Redraws only when the count changes.
 */
export function showUnread(total: number, mentioned: boolean): void {
  document.title = total > 0 ? `(${total}) Chat` : "Chat";
  const label = total === 0 ? "" : mentioned ? "@" : total > 9 ? "9+" : String(total);
  if (label === shown) return;
  shown = label;
  iconLink().href = drawIcon(label);
}
