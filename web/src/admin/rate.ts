import type { AdminStats } from "../../../shared/http.js";

/** One reading of the nodes' message counters (`GET /api/admin/stats`), and when it was taken. */
export interface Reading {
  at: number;
  nodes: AdminStats["nodes"];
}

/**
 * Messages accepted between two readings, over every node. `nodes[].messages` counts since the node started:
 * a node seen in both readings adds its difference; one that restarted meanwhile (a later `startedAt`, or a
 * count that went down) adds its whole count, all of it made since the restart; one that joined the cluster
 * after the first reading adds its whole count, and one already running then but unseen adds nothing (its
 * count covers time before the first reading).
 */
export function messagesBetween(previous: Reading, next: Reading): number {
  const before = new Map(previous.nodes.map((node) => [node.id, node]));
  let total = 0;
  for (const node of next.nodes) {
    const was = before.get(node.id);
    if (was && was.startedAt === node.startedAt && node.messages >= was.messages) {
      total += node.messages - was.messages;
    } else if (was || node.startedAt >= previous.at) {
      total += node.messages;
    }
  }
  return total;
}

/** Messages per minute between two readings (0 when they are not apart in time). */
export function perMinute(previous: Reading, next: Reading): number {
  const minutes = (next.at - previous.at) / 60_000;
  return minutes > 0 ? messagesBetween(previous, next) / minutes : 0;
}
