/** Local networking for the test servers: everything binds 127.0.0.1 only. */
import { createServer } from "node:net";

/**
 * A free TCP port on 127.0.0.1, closed again so the server under test can bind it right after.
 * @throws Error when the operating system gives no port.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}
