import type { SessionRecord } from "../src/domain/session.ts";

/**
 * The baseline the store benchmark measures against: what a first version of a JSON-file store
 * usually does. Every save reads the whole file, changes one entry and writes the whole file
 * back, with no lock, no temporary file and no fsync. Concurrent saves overwrite each other, and
 * a save that reads while another is writing sees a truncated file and fails.
 *
 * @example
 * ```ts
 * const naive = new NaiveSessionStore("/tmp/bench/sessions-metadata.json");
 * await naive.save(record);
 * ```
 */
export class NaiveSessionStore {
  constructor(readonly path: string) {}

  /** Read-modify-write of the whole file. */
  async save(record: SessionRecord): Promise<void> {
    let sessions: Record<string, SessionRecord> = {};
    try {
      sessions = JSON.parse(await Deno.readTextFile(this.path));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    sessions[record.id] = record;
    await Deno.writeTextFile(this.path, JSON.stringify(sessions));
  }
}
