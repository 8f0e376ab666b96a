import type { AdminStats } from "../../../shared/http.js";
import { background } from "../background.js";
import { h, replaceChildren } from "../dom.js";
import type { AdminApi } from "./api.js";
import { formatRate, sparkline } from "./chart.js";
import { perMinute, type Reading } from "./rate.js";
import { ResultLine, table, when, type AdminView } from "./ui.js";

/** How often the dashboard asks for the stats. @default 5000 */
export const POLL_MS = 5000;
/** Rates the chart keeps (at POLL_MS apart: the last five minutes). */
const KEEP = 60;

/**
 * The dashboard: connections, users online, messages per minute as a live chart, the cluster's nodes and the
 * group workers, from `GET /api/admin/stats` every POLL_MS. The rate is the nodes' accepted-message counters'
 * difference between two readings (rate.ts).
 */
export class DashboardView implements AdminView {
  readonly element: HTMLElement;
  private readonly body = h("div", { class: "admin-dashboard", "aria-live": "off" });
  private readonly result = new ResultLine();
  private readonly rates: number[] = [];
  private last: Reading | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly api: AdminApi) {
    this.element = h(
      "section",
      { class: "admin-section", "aria-labelledby": "admin-title" },
      h("h1", { id: "admin-title" }, "Dashboard"),
      this.result.element,
      this.body,
    );
    replaceChildren(this.body, h("p", { class: "empty-note" }, "Loading…"));
    this.poll();
    this.timer = setInterval(() => this.poll(), POLL_MS);
  }

  dispose(): void {
    clearInterval(this.timer);
  }

  private poll(): void {
    background(
      this.api.stats().then((answer) => {
        if (!answer.ok) return this.result.failed(answer.error.message);
        this.result.clear();
        const reading = { at: Date.now(), nodes: answer.data.nodes };
        if (this.last) this.rates.push(perMinute(this.last, reading));
        if (this.rates.length > KEEP) this.rates.shift();
        this.last = reading;
        this.render(answer.data);
      }),
    );
  }

  private render(stats: AdminStats): void {
    const rate = this.rates.at(-1);
    const card = (label: string, value: string) =>
      h("div", { class: "admin-card" }, h("span", { class: "admin-card-label" }, label), h("strong", {}, value));
    replaceChildren(
      this.body,
      h(
        "div",
        { class: "admin-cards" },
        card("Connections", String(stats.connections)),
        card("Users online", String(stats.users)),
        card("Messages per minute", rate === undefined ? "…" : formatRate(rate)),
        card("Group workers", String(stats.workers.length)),
      ),
      h(
        "figure",
        { class: "admin-figure" },
        this.rates.length > 1
          ? sparkline(this.rates, "Messages per minute")
          : h("p", { class: "empty-note" }, "The chart starts with the next readings (every 5 s)."),
        h(
          "figcaption",
          {},
          this.rates.length > 1
            ? `Messages per minute, the last five minutes (the top line is ${formatRate(Math.max(1, ...this.rates))})`
            : "Messages per minute, the last five minutes",
        ),
      ),
      h("h2", {}, "Nodes"),
      table(
        "Nodes",
        ["Node", "Connections", "Started", "Messages since start"],
        stats.nodes.map((node) => [node.id, String(node.connections), when(node.startedAt), String(node.messages)]),
        "No node answered.",
      ),
      h("h2", {}, "Group workers"),
      table(
        "Group workers",
        ["Room", "Started"],
        stats.workers.map((worker) => [worker.room, when(worker.startedAt)]),
        "No group worker is running.",
      ),
    );
  }
}
