import type { SessionRecord } from "../../domain/session.ts";
import { checkStoredRecord, storedRecord } from "../metadata_file.ts";
import type { ValueSealer } from "../sealed_value.ts";

/** A `sessions` row as the client returns it. */
export interface SessionRow {
  id: string;
  created_at: unknown;
  updated_at: unknown;
  name: unknown;
  webhooks: unknown;
  desired_state: unknown;
  spec_version: string | number;
  status: unknown;
  phone_number: unknown;
  push_name: unknown;
  connected_at: unknown;
  last_disconnected_at: unknown;
  last_disconnect: unknown;
}

/** The columns of the report half, by record field. */
export const REPORT_COLUMNS = {
  status: "status",
  phoneNumber: "phone_number",
  pushName: "push_name",
  connectedAt: "connected_at",
  lastDisconnectedAt: "last_disconnected_at",
  lastDisconnect: "last_disconnect",
} as const;

/**
 * A row checked like a metadata file's entry (the same schema, sealed secrets opened): the record,
 * or why the row is invalid. Columns are read as they are, so a bad value is reported, not cast.
 *
 * @example
 * ```ts
 * const checked = recordFromRow(row, sealer);
 * ```
 */
export function recordFromRow(
  row: SessionRow,
  sealer: ValueSealer | undefined,
): { record: SessionRecord } | { reason: string } {
  const value: Record<string, unknown> = {
    id: row.id,
    name: row.name,
    status: row.status,
    desiredState: row.desired_state,
    phoneNumber: row.phone_number,
    pushName: row.push_name,
    createdAt: row.created_at,
    connectedAt: row.connected_at,
    lastDisconnectedAt: row.last_disconnected_at,
    lastDisconnect: row.last_disconnect,
  };
  if (row.updated_at !== null) value.updatedAt = row.updated_at;
  if (row.webhooks !== null) value.webhooks = row.webhooks;
  return checkStoredRecord(row.id, value, sealer);
}

/**
 * The columns of a record as stored (webhook secrets sealed with a sealer).
 *
 * @example
 * ```ts
 * await sql`INSERT INTO sessions ${sql(rowFromRecord(record, sealer))}`;
 * ```
 */
export function rowFromRecord(
  record: SessionRecord,
  sealer: ValueSealer | undefined,
): Record<string, unknown> {
  const sealed = storedRecord(record, sealer);
  return {
    id: sealed.id,
    created_at: sealed.createdAt,
    updated_at: sealed.updatedAt ?? null,
    name: sealed.name,
    webhooks: sealed.webhooks ?? null,
    desired_state: sealed.desiredState,
    status: sealed.status,
    phone_number: sealed.phoneNumber,
    push_name: sealed.pushName,
    connected_at: sealed.connectedAt,
    last_disconnected_at: sealed.lastDisconnectedAt,
    last_disconnect: sealed.lastDisconnect,
  };
}
