import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { CHAT_ENV, type CaseResult, type VariantResult } from "./harness.js";
import { ROOT } from "./proc.js";
import { round } from "./stats.js";

/** The machine and software a run measured. */
export interface Environment {
  machine: string;
  versions: Record<string, string>;
  commit: string;
  loadBefore: number[];
  loadAfter?: number[];
  startedAt: string;
  command: string;
  chatEnv: Record<string, string>;
  /** Diagnostic environment knobs in force (BENCH_SEED_SQL, BENCH_SQLITE_PRAGMAS): such a run is an experiment. */
  knobs: Record<string, string>;
}

/** The diagnostic knobs of the bench (see bench/README.md) that are set in this process's environment. */
export function diagnosticKnobs(): Record<string, string> {
  const knobs: Record<string, string> = {};
  for (const name of ["BENCH_SEED_SQL", "BENCH_SQLITE_PRAGMAS"]) {
    const value = process.env[name];
    if (value) knobs[name] = value;
  }
  return knobs;
}

const pkgVersion = (name: string): string => {
  try {
    return (JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string })
      .version;
  } catch {
    return "?";
  }
};

/** Describes this machine and the versions in use. */
export function environment(command: string): Environment {
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "server", "shared"], { cwd: ROOT })
      .toString()
      .trim();
    if (dirty) commit += " + uncommitted server/shared changes";
  } catch {
    // Not a git checkout.
  }
  const db = new Database(":memory:");
  const sqlite = (db.prepare("SELECT sqlite_version() AS v").get() as { v: string }).v;
  db.close();
  const cpu = cpus();
  return {
    machine: `${cpu[0]?.model ?? "?"} × ${cpu.length} CPUs, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}`,
    versions: {
      node: process.version,
      "socket.io": pkgVersion("socket.io"),
      "engine.io": pkgVersion("engine.io"),
      ws: pkgVersion("ws"),
      "better-sqlite3": pkgVersion("better-sqlite3"),
      sqlite,
      jsonwebtoken: pkgVersion("jsonwebtoken"),
      zod: pkgVersion("zod"),
    },
    commit,
    loadBefore: loadavg().map((n) => round(n, 2)),
    startedAt: new Date().toISOString(),
    command,
    knobs: diagnosticKnobs(),
    chatEnv: Object.fromEntries(Object.entries(CHAT_ENV).filter(([key]) => !/SECRET|KEY/.test(key))),
  };
}

function cell(value: number | undefined, digits = 2): string {
  if (value === undefined || !Number.isFinite(value)) return "–";
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function variantTable(variant: VariantResult): string[] {
  const comparisons = variant.comparisons.filter(
    (comparison) => variant.servers[comparison.of] && variant.servers[comparison.to],
  );
  const header = ["metric", ...variant.columns.map((column) => column.label), ...comparisons.map((c) => c.label)];
  const lines = [`| ${header.join(" | ")} |`, `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`];
  for (const metric of variant.metrics) {
    const values = variant.columns.map((column) =>
      cell(variant.servers[column.key]!.median[metric.key], metric.digits),
    );
    const ratios = comparisons.map((comparison) => {
      const ratio = metric.ratio ? variant.ratios[metric.key]?.[comparison.key] : undefined;
      return ratio === undefined ? "" : `${cell(ratio, 3)}×`;
    });
    lines.push(`| ${[metric.label, ...values, ...ratios].join(" | ")} |`);
  }
  return lines;
}

/** The markdown report: machine line, versions, one table per case variant, targets, profiles. */
export function renderMarkdown(env: Environment, cases: CaseResult[], totalSeconds: number): string {
  const out: string[] = [];
  out.push("# Benchmark results", "");
  out.push(
    `- **machine**: ${env.machine}; load average before ${env.loadBefore.join(" / ")}` +
      (env.loadAfter ? `, after ${env.loadAfter.join(" / ")}` : "") +
      " (the machine is shared: ratios to baselines of the same run are what count)",
  );
  out.push(
    `- **versions**: ${Object.entries(env.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
  );
  out.push(`- **commit**: ${env.commit}; started ${env.startedAt}; took ${Math.round(totalSeconds)} s`);
  out.push(`- **command**: \`${env.command}\``);
  out.push(
    `- **our server's settings**: ${Object.entries(env.chatEnv)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ")}, ` + "NODE_ENV=production; servers pinned to CPU 0, the load client to CPU 1 (`taskset`)",
  );
  if (Object.keys(env.knobs).length > 0) {
    out.push(
      `- **diagnostic knobs (an experiment, not a result)**: ${Object.entries(env.knobs)
        .map(([k, v]) => `${k}=${v}`)
        .join("; ")}`,
    );
  }
  out.push("");
  const targets = cases.flatMap((c) => c.targets.map((t) => ({ ...t, case: c.title })));
  if (targets.length > 0) {
    out.push("## Targets", "", "| case | target | measured | met |", "|---|---|---|---|");
    for (const t of targets) out.push(`| ${t.case} | ${t.target} | ${t.measured} | ${t.met ? "yes" : "**no**"} |`);
    out.push("");
  }
  for (const result of cases) {
    out.push(`## ${result.title} (\`--case ${result.name}\`, ${result.seconds} s)`, "");
    for (const line of result.method) out.push(`- ${line}`);
    out.push("");
    for (const variant of result.variants) {
      out.push(`**${variant.name}**`, "", ...variantTable(variant), "");
    }
    for (const note of result.notes) out.push(`> ${note}`, "");
    for (const profile of result.profiles) {
      out.push(
        `<details><summary>CPU profile: ${profile.file} (${profile.activeMs} ms on CPU)</summary>`,
        "",
        `Self time by origin (natives counted for their JS caller): ${profile.byOrigin.map((o) => `${o.origin} ${o.pct}%`).join(", ")}`,
        "",
        `Inclusive time by origin (any frame of it on the stack): ${profile.inclusiveByOrigin.map((o) => `${o.origin} ${o.pct}%`).join(", ")}`,
        "",
        "| self % | function | where |",
        "|---:|---|---|",
        ...profile.top.map((entry) => `| ${entry.pct} | \`${entry.name}\` | ${entry.where} |`),
        "",
        "| inclusive % | our function | where |",
        "|---:|---|---|",
        ...profile.ours.map((entry) => `| ${entry.pct} | \`${entry.name}\` | ${entry.where} |`),
        "",
        "</details>",
        "",
      );
    }
  }
  return out.join("\n");
}
