/**
 * A local HTTPS server for the recorded-exchange servers and scripted tests: it listens on
 * 127.0.0.1 only, on a port the system picks, and hands each request over with its whole body.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server, type ServerOptions } from "node:https";

/** A listening local HTTPS server. */
export interface LocalHttpsServer {
  server: Server;
  /** `https://127.0.0.1:<port>`. */
  origin: string;
  /** Close open connections and stop listening. */
  close(): Promise<void>;
}

/**
 * Start an HTTPS server with `options` (certificate, key, client-certificate settings) on
 * 127.0.0.1 and a free port; `onRequest` runs once the request body has been read.
 */
export async function startLocalHttpsServer(
  options: ServerOptions,
  onRequest: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void,
): Promise<LocalHttpsServer> {
  const server = createServer(options, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => onRequest(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    server,
    origin: `https://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
