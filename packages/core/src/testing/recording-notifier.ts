/** A {@link Notifier} that records what it was asked to send, for tests. */
import type { Notification, Notifier } from "../ports/notifier.js";

/** Keeps every notification in {@link RecordingNotifier.sent}. */
export class RecordingNotifier implements Notifier {
  readonly sent: Notification[] = [];

  async notify(notification: Notification): Promise<void> {
    this.sent.push(structuredClone(notification));
  }

  /** Notifications of one kind. */
  ofKind<K extends Notification["kind"]>(kind: K): Extract<Notification, { kind: K }>[] {
    return this.sent.filter((n): n is Extract<Notification, { kind: K }> => n.kind === kind);
  }
}
