import type { Server } from "socket.io";
import type {
  ClientToServerEvents,
  InterServerEvents,
  NodeView,
  ServerToClientEvents,
  SocketData,
} from "../../shared/events.js";

type ChatIo = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/**
 * The nodes of the cluster as `GET /api/admin/stats` lists them: this one, and each other node that answers
 * within the adapter's 5 s (a node that does not is left out). One node lists itself alone.
 */
export function nodeDirectory(io: ChatIo, self: () => NodeView, clustered: boolean): () => Promise<NodeView[]> {
  if (!clustered) return async () => [self()];
  io.on("node", (answer) => answer(self()));
  return async () => {
    const others = await io.serverSideEmitWithAck("node").catch((): NodeView[] => []);
    return [self(), ...others].sort((a, b) => a.id.localeCompare(b.id));
  };
}
