/** A connection worker that cannot start, as when the process may not read the worker's files. */
/// <reference lib="deno.worker" />
throw new Error("this worker cannot start");
