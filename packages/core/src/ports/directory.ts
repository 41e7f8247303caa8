/** The `Directory` port: users and their attributes, from which policies choose and subjects are filled. */

/** A user as the directory knows them. */
export interface DirectoryUser {
  id: string;
  displayName: string;
  givenName?: string;
  surname?: string;
  /** User principal name, for the SAN otherName (smart-card logon). */
  upn?: string;
  email?: string;
  groups: readonly string[];
  /** Any other attributes subject templates may use (`{attributes.department}`). */
  attributes: Readonly<Record<string, string>>;
}

/** Looks users up. */
export interface Directory {
  getUser(id: string): Promise<DirectoryUser | null>;
}
