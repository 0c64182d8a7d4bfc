import {
  type GroupMetadata,
  type GroupParticipant,
  jidNormalizedUser,
  type ParticipantAction,
} from "@whiskeysockets/baileys";

/** Groups whose metadata one connection keeps; past it the least recently used go. */
const DEFAULT_LIMIT = 2_000;

/** The forms a participant is known by (its JID, phone number JID, LID), normalized. */
function namesOf(participant: Pick<GroupParticipant, "id" | "phoneNumber" | "lid">): string[] {
  return [participant.id, participant.phoneNumber, participant.lid]
    .filter((jid): jid is string => typeof jid === "string" && jid.length > 0)
    .map((jid) => jidNormalizedUser(jid));
}

/** Whether two participant entries name the same user, in whichever forms they came. */
export function sameParticipant(
  a: Pick<GroupParticipant, "id" | "phoneNumber" | "lid">,
  b: Pick<GroupParticipant, "id" | "phoneNumber" | "lid">,
): boolean {
  const names = new Set(namesOf(a));
  return namesOf(b).some((name) => names.has(name));
}

/**
 * Group metadata one connection knows, for Baileys' `cachedGroupMetadata`: a send to a group
 * then needs no metadata query (WhatsApp rate-limits them). Filled by the first send or read of
 * a group, kept current from the `w:gp2` notifications WhatsApp sends members (participants
 * added, removed, promoted, demoted; subject, description, settings). In memory only: after a
 * reconnect it starts empty, as notifications missed while offline would leave it stale.
 */
export class GroupMetadataCache {
  readonly #entries = new Map<string, GroupMetadata>();
  readonly #fetching = new Map<string, Promise<GroupMetadata | undefined>>();
  readonly #limit: number;
  /** How many times a miss was fetched from WhatsApp (for tests and logs). */
  fetches = 0;

  constructor(limit = DEFAULT_LIMIT) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(jid: string): GroupMetadata | undefined {
    const metadata = this.#entries.get(jid);
    if (metadata) this.set(metadata);
    return metadata;
  }

  /**
   * The metadata of `jid`, fetched once with `fetch` on a miss (concurrent misses share one
   * fetch); `undefined` when the fetch fails, so that Baileys asks WhatsApp itself and reports
   * why.
   */
  lookup(
    jid: string,
    fetch: (jid: string) => Promise<GroupMetadata>,
  ): Promise<GroupMetadata | undefined> {
    const cached = this.get(jid);
    if (cached) return Promise.resolve(cached);
    let pending = this.#fetching.get(jid);
    if (!pending) {
      this.fetches++;
      pending = fetch(jid).then(
        (metadata) => {
          this.set(metadata);
          return metadata;
        },
        () => undefined,
      ).finally(() => this.#fetching.delete(jid));
      this.#fetching.set(jid, pending);
    }
    return pending;
  }

  set(metadata: GroupMetadata): void {
    this.#entries.delete(metadata.id);
    this.#entries.set(metadata.id, metadata);
    while (this.#entries.size > this.#limit) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }

  delete(jid: string): void {
    this.#entries.delete(jid);
  }

  clear(): void {
    this.#entries.clear();
  }

  /** Takes in a change of subject, description or settings (`groups.update`). */
  applyUpdate(update: Partial<GroupMetadata>): void {
    const current = update.id ? this.#entries.get(update.id) : undefined;
    if (!current) return;
    // A removed description comes as `desc: undefined`; other absent fields did not change.
    const changes = Object.fromEntries(
      Object.entries(update).filter(([name, value]) =>
        (value !== undefined || name === "desc") && !name.startsWith("author")
      ),
    );
    this.#entries.set(current.id, { ...current, ...changes });
  }

  /**
   * Takes in a participant change (`group-participants.update`); a group this account left or
   * was removed from (`isMe`) is forgotten.
   */
  applyParticipants(
    jid: string,
    action: ParticipantAction | string,
    changed: readonly Pick<GroupParticipant, "id" | "phoneNumber" | "lid">[],
    isMe: (participant: Pick<GroupParticipant, "id" | "phoneNumber" | "lid">) => boolean,
  ): void {
    const current = this.#entries.get(jid);
    if (!current) return;
    if (action === "remove" && changed.some(isMe)) {
      this.#entries.delete(jid);
      return;
    }
    let participants = [...current.participants];
    for (const entry of changed) {
      const index = participants.findIndex((p) => sameParticipant(p, entry));
      if (action === "add" && index < 0) {
        participants.push({
          id: entry.id,
          phoneNumber: entry.phoneNumber,
          lid: entry.lid,
          admin: null,
        });
      } else if (action === "remove" && index >= 0) {
        participants = participants.filter((_, i) => i !== index);
      } else if ((action === "promote" || action === "demote") && index >= 0) {
        participants[index] = {
          ...participants[index],
          admin: action === "promote" ? "admin" : null,
        };
      }
    }
    this.#entries.set(jid, { ...current, participants, size: participants.length });
  }
}
