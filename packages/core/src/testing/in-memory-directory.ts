/** An in-memory {@link Directory} for tests, examples and small deployments without LDAP. */
import type { Directory, DirectoryUser } from "../ports/directory.js";

/** Users held in a map. */
export class InMemoryDirectory implements Directory {
  readonly #users = new Map<string, DirectoryUser>();

  constructor(users: readonly DirectoryUser[] = []) {
    for (const u of users) this.put(u);
  }

  /** Add or replace a user. */
  put(user: DirectoryUser): void {
    this.#users.set(user.id, structuredClone(user));
  }

  /** Remove a user. */
  delete(id: string): void {
    this.#users.delete(id);
  }

  async getUser(id: string): Promise<DirectoryUser | null> {
    const u = this.#users.get(id);
    return u === undefined ? null : structuredClone(u);
  }
}
