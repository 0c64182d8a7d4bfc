import type { OwnershipObserver } from "../domain/session_manager.ts";
import type { ForwardResult } from "../http/owner_forwarding.ts";
import type { LossReason, PassOutcome } from "../ownership/session_ownership.ts";
import { Counter, Gauge, type MetricsRegistry } from "./metrics_registry.ts";

const LOSS_REASONS: readonly LossReason[] = [
  "lease_lost",
  "fenced",
  "self_fenced",
  "rebalanced",
  "shutdown",
];
const FORWARD_RESULTS: readonly ForwardResult[] = [
  "forwarded",
  "owner_unreachable",
  "no_owner",
  "moved",
];

/**
 * The metrics of session ownership on this node: leases held, acquisitions, losses by reason,
 * writes the store refused under a stale fence, failed ownership passes and requests forwarded to
 * other nodes. Registered on the gateway's registry, so `/metrics` (per node) shows them.
 *
 * @example
 * ```ts
 * const cluster = new ClusterMetrics(metrics.registry);
 * cluster.trackLeasesHeld(() => ownership.heldSessions.length);
 * ```
 */
export class ClusterMetrics {
  readonly acquisitions: Counter;
  readonly takeovers: Counter;
  readonly losses: Counter<"reason">;
  readonly fencedWrites: Counter;
  readonly failedPasses: Counter;
  readonly forwarded: Counter<"result">;
  #leasesHeld: () => number = () => 0;

  constructor(registry: MetricsRegistry) {
    registry.register(
      new Gauge({
        name: "wa_leases_held",
        help: "Session leases this node holds (the sessions it runs).",
        collect: () => [[{}, this.#leasesHeld()]],
      }),
    );
    this.acquisitions = registry.register(
      new Counter({
        name: "wa_lease_acquisitions_total",
        help: "Session leases this node acquired (new sessions, restores and takeovers).",
      }),
    );
    this.takeovers = registry.register(
      new Counter({
        name: "wa_lease_takeovers_total",
        help: "Sessions this node took over from another node (expired or released lease).",
      }),
    );
    this.losses = registry.register(
      new Counter<"reason">({
        name: "wa_lease_losses_total",
        help: "Sessions this node stopped running, by reason.",
        labelNames: ["reason"],
        initialLabels: LOSS_REASONS.map((reason) => ({ reason })),
      }),
    );
    this.fencedWrites = registry.register(
      new Counter({
        name: "wa_fenced_writes_total",
        help: "Writes the store refused because this node's lease epoch was stale.",
      }),
    );
    this.failedPasses = registry.register(
      new Counter({
        name: "wa_ownership_pass_failures_total",
        help: "Ownership passes (heartbeat, renew, placement) that failed, e.g. store unreachable.",
      }),
    );
    this.forwarded = registry.register(
      new Counter<"result">({
        name: "wa_forwarded_requests_total",
        help: "Requests for sessions run by another node, by outcome.",
        labelNames: ["result"],
        initialLabels: FORWARD_RESULTS.map((result) => ({ result })),
      }),
    );
  }

  /** Reports `wa_leases_held` from `count()` at every scrape. */
  trackLeasesHeld(count: () => number): void {
    this.#leasesHeld = count;
  }

  /** The session manager's `ownershipObserver`. */
  readonly observer: OwnershipObserver = {
    onAcquired: (lease) => {
      this.acquisitions.inc();
      // Epoch 1 is a session's first owner; any later epoch was held before, here or elsewhere.
      if (lease.epoch > 1) this.takeovers.inc();
    },
    onLost: (_id, reason) => this.losses.inc({ reason }),
    onFenced: () => this.fencedWrites.inc(),
    onPass: (outcome: PassOutcome) => {
      if (outcome.failed) this.failedPasses.inc();
    },
  };

  /** The forwarding middleware's `onForward` hook. */
  readonly recordForward = (result: ForwardResult): void => {
    this.forwarded.inc({ result });
  };
}
