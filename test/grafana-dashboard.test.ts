import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Metrics } from "../server/metrics.js";

/*
 * docs/grafana-dashboard.json must not drift from server/metrics.ts: every PromQL expression names only
 * metrics the server's registry has (a histogram's _bucket/_sum/_count included), and every chat_* metric
 * the server registers is on the dashboard.
 */

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string | { query: string } }[] };
}

const dashboard = JSON.parse(
  readFileSync(new URL("../docs/grafana-dashboard.json", import.meta.url), "utf8"),
) as Dashboard;

/** Words of PromQL that are not metric names where they stand outside label matchers and ranges. */
const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "inf", "nan"]);

/**
 * The metric names a PromQL expression selects: identifiers left once strings, label matchers `{...}`,
 * ranges `[...]` and label lists of `by`/`without`/`on`/`ignoring` are gone, other than function names
 * (an identifier followed by `(`) and keywords.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  return [...bare.matchAll(/(?<![\w.$])([A-Za-z_:][\w:]*)(\s*\()?/g)]
    .filter((match) => match[2] === undefined && !KEYWORDS.has(match[1]!.toLowerCase()))
    .map((match) => match[1]!);
}

/** What the server's registry exposes: names, with histograms' series names too. */
async function registered(): Promise<{ names: Set<string>; chat: string[] }> {
  const metrics = new Metrics({ sockets: () => 0, users: () => 0, workers: () => 0 });
  const names = new Set<string>();
  const chat: string[] = [];
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (metric.name.startsWith("chat_")) chat.push(metric.name);
    // prom-client types `type` as a numeric enum, but the JSON carries its name ("histogram").
    const type = String(metric.type);
    if (type === "histogram" || type === "summary") {
      for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${metric.name}${suffix}`);
    }
  }
  return { names, chat };
}

const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((panel) => [panel, ...allPanels(panel.panels ?? [])]);
const exprs = allPanels(dashboard.panels).flatMap((panel) =>
  (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })),
);

describe("docs/grafana-dashboard.json", () => {
  it("reads metric names out of PromQL, skipping functions, labels, ranges and keywords", () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, event) (rate(chat_ack_latency_seconds_bucket{instance=~"$instance"}[$__rate_interval]))) * 60',
      ),
    ).toEqual(["chat_ack_latency_seconds_bucket"]);
    expect(metricNames("sum(rate(a_sum[5m])) / sum(rate(a_count[5m])) and on (job) up")).toEqual([
      "a_sum",
      "a_count",
      "up",
    ]);
  });

  it("selects only metrics that server/metrics.ts registers, in every panel", async () => {
    const { names } = await registered();
    expect(exprs.length).toBeGreaterThan(10);
    for (const { panel, expr } of exprs) {
      const used = metricNames(expr);
      expect(used.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const name of used) expect(names.has(name), `${panel}: ${name} is not registered`).toBe(true);
    }
  });

  it("shows every chat_* metric the server registers", async () => {
    const { chat } = await registered();
    const used = new Set(exprs.flatMap(({ expr }) => metricNames(expr)));
    const shown = (name: string) => ["", "_bucket", "_sum", "_count"].some((suffix) => used.has(`${name}${suffix}`));
    expect(chat.filter((name) => !shown(name))).toEqual([]);
  });

  it("lists its nodes from a registered metric", async () => {
    const { names } = await registered();
    const instance = dashboard.templating.list.find((variable) => variable.name === "instance");
    const query = typeof instance?.query === "object" ? instance.query.query : instance?.query;
    const metric = /^label_values\((\w+),\s*instance\)$/.exec(query ?? "")?.[1];
    expect(metric !== undefined && names.has(metric), String(query)).toBe(true);
  });
});
