import type { Server } from "socket.io";

/** What `closeOversizedPolling` uses of an engine.io connection and its long-polling transport (engine.io 6). */
interface PollingConnection {
  transport: {
    name: string;
    onDataRequest(
      request: unknown,
      response: { once(event: "finish", listener: () => void): unknown; statusCode: number },
    ): void;
    onError(message: string): void;
  };
}

/**
 * Closes a long-polling session whose client posted a payload over `maxHttpBufferSize` (MAX_FRAME_BYTES), as a
 * WebSocket sending a frame over it is closed (contract section 1). engine.io only answers such a POST 413 and
 * keeps the session open; here the 413 also ends the session, as a transport error (the sid is unknown after).
 */
export function closeOversizedPolling(io: Server): void {
  io.engine.on("connection", (connection: PollingConnection) => {
    const transport = connection.transport;
    if (transport.name !== "polling") return;
    const onDataRequest = transport.onDataRequest.bind(transport);
    transport.onDataRequest = (request, response) => {
      response.once("finish", () => {
        if (response.statusCode === 413) transport.onError("payload over MAX_FRAME_BYTES");
      });
      onDataRequest(request, response);
    };
  });
}
