/**
 * `npm run bench [-- --quick] [--case NAME[,NAME]] [--runs N] [--profile|--no-profile] [--chat-env K=V]`
 *
 * Runs the benchmark suite: each case runs our server and, in the same run and with the same client,
 * a bare Socket.IO server and a raw `ws` server, all pinned to CPU 0 while this process — the load
 * client — runs on CPU 1. Writes bench/results/latest.{json,md} (a full run also refreshes the table in
 * bench/README.md); `--quick` and `--case` write quick.* / case-NAME.* instead so a partial run never
 * replaces the full report. The `cluster` case (two nodes on PostgreSQL + Redis against one) runs only
 * when named, since it needs those servers.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { clusterCase } from "./cases/cluster.js";
import { correctnessCase } from "./cases/correctness.js";
import { fanoutCase } from "./cases/fanout.js";
import { historyCase } from "./cases/history.js";
import { latencyCase } from "./cases/latency.js";
import { memoryCase } from "./cases/memory.js";
import { sendCase } from "./cases/send.js";
import { stormCase } from "./cases/storm.js";
import { CHAT_ENV, type BenchContext, type CaseResult } from "./lib/harness.js";
import { CLIENT_CPU, ROOT, ensureBuild, pinSelf, raiseFdLimit } from "./lib/proc.js";
import { environment, renderMarkdown } from "./lib/report.js";
import { round } from "./lib/stats.js";

const CASES: Record<string, (ctx: BenchContext) => Promise<CaseResult>> = {
  correctness: correctnessCase,
  fanout: fanoutCase,
  send: sendCase,
  latency: latencyCase,
  storm: stormCase,
  memory: memoryCase,
  history: historyCase,
  cluster: clusterCase,
};

/** What `npm run bench` runs without `--case`: every case but those that need PostgreSQL and Redis. */
const DEFAULT_CASES = Object.keys(CASES).filter((name) => name !== "cluster");

function parseArgs(argv: string[]) {
  const options = {
    quick: false,
    cases: [...DEFAULT_CASES],
    runs: 0,
    profile: undefined as boolean | undefined,
    explicitCases: false,
    chatEnv: {} as Record<string, string>,
  };
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    const value = () => {
      const next = argv[++index];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === "--quick") options.quick = true;
    else if (arg === "--no-profile") options.profile = false;
    else if (arg === "--profile") options.profile = true;
    else if (arg === "--runs") options.runs = Number(value());
    else if (arg === "--chat-env") {
      // For experiments: `--chat-env DB_SYNC=normal` changes what our server runs with (reported).
      const [key, ...rest] = value().split("=");
      options.chatEnv[key!] = rest.join("=");
    } else if (arg === "--case" || arg.startsWith("--case=")) {
      const names = (arg.includes("=") ? arg.split("=")[1]! : value()).split(",");
      for (const name of names)
        if (!CASES[name]) throw new Error(`unknown case ${name}: ${Object.keys(CASES).join(", ")}`);
      options.cases = names;
      options.explicitCases = true;
    } else if (arg === "--help" || arg === "-h") {
      process.stdout.write(
        `usage: npm run bench -- [--quick] [--case ${Object.keys(CASES).join("|")}] [--runs N] [--profile|--no-profile] [--chat-env KEY=VALUE]\n`,
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}`);
  }
  // The real client's correctness pass always runs first: numbers from a broken path mean nothing.
  if (!options.cases.includes("correctness")) options.cases.unshift("correctness");
  return options;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  Object.assign(CHAT_ENV, args.chatEnv);
  const started = Date.now();
  // Our server runs as `npm start` runs it: compiled into dist/ (rebuilt here when the sources are newer),
  // before this process is pinned to one CPU, so the build has both.
  const built = ensureBuild();
  const pinned = pinSelf(CLIENT_CPU);
  const fdLimit = raiseFdLimit(65536);
  const resultsDir = join(ROOT, "bench/results");
  mkdirSync(resultsDir, { recursive: true });
  const log = (message: string) =>
    process.stdout.write(`[${String(Math.round((Date.now() - started) / 1000)).padStart(4)} s] ${message}\n`);
  const ctx: BenchContext = {
    quick: args.quick,
    runs: args.runs > 0 ? args.runs : args.quick ? 1 : 3,
    profile: args.profile ?? !args.quick,
    resultsDir,
    fdLimit,
    log,
  };
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
  const env = environment(command);
  if (!pinned) log("warning: taskset failed; the load client is not pinned");
  if (built !== "") log(built.replaceAll("\n", "; "));
  log(`${env.machine}; fd limit ${fdLimit}; ${ctx.runs} run(s) per case; cases: ${args.cases.join(", ")}`);
  const results: CaseResult[] = [];
  let failed = false;
  for (const name of args.cases) {
    log(`— ${name}`);
    try {
      const result = await CASES[name]!(ctx);
      results.push(result);
      for (const target of result.targets)
        log(`  target ${target.met ? "met" : "MISSED"}: ${target.target}: ${target.measured}`);
    } catch (error) {
      failed = true;
      log(`case ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      if (name === "correctness") break;
    }
  }
  env.loadAfter = loadavg().map((n) => round(n, 2));
  const seconds = (Date.now() - started) / 1000;
  const diagnostic = Object.keys(env.knobs).length > 0 ? "-diagnostic" : "";
  const tag =
    Object.keys(args.chatEnv).length > 0
      ? `-${Object.entries(args.chatEnv)
          .map(([k, v]) => `${k}=${v}`)
          .join(",")}`
      : "";
  const stem =
    (args.quick
      ? "quick"
      : args.explicitCases
        ? `case-${args.cases.filter((c) => c !== "correctness").join("+") || "correctness"}`
        : "latest") +
    tag +
    diagnostic;
  const markdown = renderMarkdown(env, results, seconds);
  writeFileSync(join(resultsDir, `${stem}.md`), markdown);
  writeFileSync(
    join(resultsDir, `${stem}.json`),
    `${JSON.stringify({ environment: env, seconds, cases: results }, null, 2)}\n`,
  );
  // The README keeps the last full run's results, and apart from them (the full suite does not run it) the
  // last cluster run's.
  if (stem === "latest" && !failed) updateReadme(markdown, command, "results", "latest");
  if (stem === "case-cluster" && !failed) updateReadme(markdown, command, "cluster-results", stem);
  log(`wrote bench/results/${stem}.md and .json in ${Math.round(seconds)} s${failed ? " (with failures)" : ""}`);
  process.exitCode = failed ? 1 : 0;
}

/** Replaces the section between `<!-- marker:start -->` and `<!-- marker:end -->` of bench/README.md with a report. */
function updateReadme(markdown: string, command: string, marker: string, stem: string): void {
  const file = join(ROOT, "bench/README.md");
  const start = `<!-- ${marker}:start -->`;
  const end = `<!-- ${marker}:end -->`;
  let readme: string;
  try {
    readme = readFileSync(file, "utf8");
  } catch {
    return;
  }
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < 0) return;
  const body = markdown.replace(/^# Benchmark results\n/, "").replace(/^## /gm, "### ");
  const head = `Produced by \`${command}\` (bench/results/${stem}.md has the same, with the CPU profiles).\n`;
  writeFileSync(file, `${readme.slice(0, from + start.length)}\n${head}\n${body}\n${readme.slice(to)}`);
}

main().then(
  () => process.exit(),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
