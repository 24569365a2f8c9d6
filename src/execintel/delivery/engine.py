"""Exactly-once delivery of a run's messages through a mailer, recorded in the store.

Each delivery moves through recorded states::

    rendered ──> sending ──> sent
       │  ▲          │ └───> unknown (it may have gone out: never resent on its own; --resend-unknown)
       │  └──────────┴──> failed (permanent, or transient and retried)
       ├──> held        (the daily send limit is reached; sent by a later run)
       └──> suppressed  (the address bounced or complained)

"sending" is recorded by the mailer's commit hook immediately before the hand-off to the provider, so a run
killed at any point leaves every delivery either before the hand-off (it is sent again) or at it (the next run
asks the mailer what became of it: :meth:`Mailer.reconcile`). A delivery already "sent" is never sent again, and
one whose hand-off started without an answer ("unknown") only when the user asks (``resend_unknown``). Each
delivery runs shielded from SIGTERM and SIGINT (:mod:`.interrupts`), and none starts after the run's deadline.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from execintel.config.models import Manifest, RetryPolicy, Stakeholder
from execintel.delivery.compose import OutgoingMessage
from execintel.delivery.interrupts import shielded
from execintel.delivery.mailers.base import Mailer, MailerError, Reconciled
from execintel.delivery.plan import NOTICE, Planned, delivery_key
from execintel.errors import DeliveryError
from execintel.store import Delivery, DeliveryState, Lock, StateConflict, Store

log = logging.getLogger(__name__)

RETRYABLE: tuple[DeliveryState, ...] = ("rendered", "failed", "held", "suppressed")  # may be (re)sent from these
SENDING: tuple[DeliveryState, ...] = ("sending",)
UNKNOWN: tuple[DeliveryState, ...] = ("unknown",)
WINDOW = dt.timedelta(hours=24)
# Longer than any one step may take (RFC 5321 allows ten minutes for the reply to the final dot): another host
# takes a lock over only when it has not been renewed for this long.
LOCK_TTL = 900.0
RUN_DEADLINE = 3600.0  # seconds a run may spend delivering, retries included (EXECINTEL_DELIVERY_DEADLINE)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one delivery in this run."""

    key: str
    report: str
    recipient: str
    state: str  # sent | already-sent | suppressed | held | failed | unknown
    attempts: int = 0
    provider_id: str | None = None
    reason: str | None = None
    permanent: bool | None = None


@dataclass
class DeliveryResult:
    """Every delivery's outcome, and what happened to the failure notice."""

    outcomes: list[Outcome] = field(default_factory=list)
    notice: str | None = None

    def of(self, *states: str) -> list[Outcome]:
        """The outcomes in any of ``states``."""
        return [o for o in self.outcomes if o.state in states]

    @property
    def problems(self) -> list[Outcome]:
        """Deliveries that did not go out: failed, held, or of unknown outcome."""
        return self.of("failed", "held", "unknown")

    @property
    def ok(self) -> bool:
        """True when every delivery went out (now or before) or was suppressed."""
        return not self.problems


def backoff(policy: RetryPolicy, round_: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry round ``round_`` (0-based): exponential, capped, with equal jitter."""
    ceiling = min(policy.max_delay, policy.initial_delay * Decimal(2) ** round_)
    return float(ceiling) * (0.5 + rng() / 2)


class Engine:
    """Sends one run's deliveries exactly once, within the daily limit, skipping suppressed addresses."""

    def __init__(
        self, *, store: Store, mailer: Mailer, manifest: Manifest, run_id: str, retry: RetryPolicy,
        resend_unknown: bool = False, lock: Lock | None = None, clock: Callable[[], dt.datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep, rng: Callable[[], float] = random.random,
        progress: Callable[[Outcome], None] | None = None, deadline: float | None = None,
    ) -> None:  # fmt: skip
        self.store, self.mailer, self.manifest, self.run_id = store, mailer, manifest, run_id
        self.retry, self.resend_unknown, self.lock = retry, resend_unknown, lock
        self.deadline = deadline
        """``time.monotonic()`` seconds after which no delivery starts and no step of one goes on (the mailer's)."""
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.sleep, self.rng, self.progress = sleep, rng, progress
        rate = manifest.policies.send_rate_per_second
        self._interval = 1 / float(rate) if rate else 0.0
        self._last_send = 0.0
        self._lock_renewed = time.monotonic()

    # ----------------------------------------------------------------- the run
    def deliver(self, planned: list[Planned], messages: dict[str, OutgoingMessage]) -> DeliveryResult:
        """Deliver every planned message that has not gone out yet; never raises for a delivery's failure."""
        result = DeliveryResult()
        self.mailer.deadline = self.deadline
        pending: list[Planned] = []
        for item in planned:
            with shielded():
                outcome = self._prepare(item, messages[item.key])
            if outcome is None:
                pending.append(item)
            else:
                self._done(result, outcome)
        for round_ in range(self.retry.attempts):
            retry_later = []
            for item in pending:
                with shielded():
                    outcome, again = self._attempt(item, messages[item.key])
                if again and round_ + 1 < self.retry.attempts:
                    retry_later.append(item)
                else:
                    self._done(result, outcome)
            if not retry_later:
                break
            delay = backoff(self.retry, round_, self.rng)
            if self.deadline is not None and time.monotonic() + delay >= self.deadline:
                delay = 0.0  # no time left to wait: the next round records each as failed for the deadline
            log.info("retrying %d deliveries in %.1f s", len(retry_later), delay)
            self.sleep(delay)
            pending = retry_later
        result.outcomes.sort(key=lambda o: (o.report, o.recipient))
        if result.problems and self.manifest.audit_mailbox:
            with shielded():
                result.notice = self._notify(result.problems)
        return result

    def _done(self, result: DeliveryResult, outcome: Outcome) -> None:
        result.outcomes.append(outcome)
        if self.progress is not None:
            self.progress(outcome)

    def _outcome(self, delivery: Delivery, state: str | None = None) -> Outcome:
        return Outcome(delivery.key, delivery.report, delivery.recipient, state or delivery.state, delivery.attempts,
                       delivery.provider_id, delivery.reason, delivery.permanent)  # fmt: skip

    def _prepare(self, item: Planned, message: OutgoingMessage) -> Outcome | None:
        """Record the delivery (or find it); resolve one a crashed run left "sending". None: it is to be sent."""
        delivery, _new = self.store.add_delivery(Delivery(
            key=item.key, portfolio=self.manifest.portfolio.name, schedule_id=item.schedule_id, period=item.period,
            report=item.report, recipient=item.recipient, recipients=len(message.envelope_recipients),
            state="rendered", run_id=self.run_id, mailer=self.mailer.url,
        ))  # fmt: skip
        if delivery.state == "sent":
            return self._outcome(delivery, "already-sent")
        if delivery.state == "unknown":
            return self._unknown(delivery)
        if delivery.state != "sending":
            return None
        answer = self.mailer.reconcile(message)
        status = answer.status
        note = answer.note or "a run stopped while handing it to the provider"
        if status is Reconciled.SENT and not answer.confirmed and not self.store.instant_commit:
            # "sending" is written before the hand-off, but with this store the write may have landed while the
            # process was still waiting for its answer, before it reached the hand-off.
            status = Reconciled.UNKNOWN
            note = (f"{note}; but with the store {self.store.url} a run can stop between recording \"sending\" "
                    "and the hand-off, so it may not have gone out")  # fmt: skip
        if status is Reconciled.SENT:
            sent = self.store.transition(item.key, "sent", run_id=self.run_id, expect=SENDING,
                                         provider_id=answer.provider_id or delivery.provider_id or "unknown",
                                         reason=note)  # fmt: skip
            return self._outcome(sent)
        if status is Reconciled.NOT_SENT:
            self.store.transition(item.key, "rendered", run_id=self.run_id, expect=SENDING, reason=note)
            return None
        return self._unknown(self.store.transition(item.key, "unknown", run_id=self.run_id, expect=SENDING,
                                                   reason=note))  # fmt: skip

    def _unknown(self, delivery: Delivery) -> Outcome | None:
        """A delivery that may have gone out: reported as unknown, or (``--resend-unknown``) to be sent again."""
        if not self.resend_unknown:
            return self._outcome(delivery)
        self.store.transition(delivery.key, "rendered", run_id=self.run_id, expect=UNKNOWN,
                              reason="sent again on request (--resend-unknown), with the same Message-ID")  # fmt: skip
        return None

    def _attempt(self, item: Planned, message: OutgoingMessage) -> tuple[Outcome, bool]:
        """One try at one delivery; True when it failed for a passing reason and may be tried again."""
        self._keep_lock()
        delivery = self.store.get_delivery(item.key)
        if delivery is None:  # pragma: no cover - recorded by _prepare
            raise DeliveryError(f"delivery {item.key} vanished from {self.store.url}")
        blocked = self.store.suppression(item.recipient)
        if blocked is not None:
            if delivery.state != "suppressed":
                why = f"{blocked.address} is suppressed: {blocked.reason}"
                delivery = self.store.transition(item.key, "suppressed", run_id=self.run_id, expect=RETRYABLE,
                                                 reason=why)  # fmt: skip
            return self._outcome(delivery), False
        held = self._over_limit(delivery.recipients)
        if held is not None:
            if delivery.state != "held" or delivery.reason != held:
                delivery = self.store.transition(item.key, "held", run_id=self.run_id, expect=RETRYABLE, reason=held)
            return self._outcome(delivery), False
        if self.deadline is not None and time.monotonic() >= self.deadline:
            why = "the run's time limit for delivering ran out before it was sent (EXECINTEL_DELIVERY_DEADLINE)"
            failed = self.store.transition(item.key, "failed", run_id=self.run_id, expect=RETRYABLE, reason=why,
                                           permanent=False)  # fmt: skip
            return self._outcome(failed), False
        self._pace()
        attempts = delivery.attempts + 1
        committed = False
        quick = self.mailer.quick_commit

        def commit() -> None:
            nonlocal committed
            # sync=False for SMTP: the final dot follows at once, and an fsync would put milliseconds between the
            # record and the hand-off (a process kill cannot lose the record; the "sent" commit makes it durable).
            self.store.transition(item.key, "sending", run_id=self.run_id, expect=RETRYABLE, attempts=attempts,
                                  mailer=self.mailer.url, sync=not quick)  # fmt: skip
            committed = True

        try:
            sent = self.mailer.send(message, commit)
        except StateConflict as exc:  # another process changed it: it is theirs now
            log.warning("%s", exc)
            current = self.store.get_delivery(item.key) or delivery
            return self._outcome(current, "already-sent" if current.state == "sent" else None), False
        except MailerError as exc:
            if exc.ambiguous and committed:
                unknown = self.store.transition(item.key, "unknown", run_id=self.run_id, expect=SENDING,
                                                reason=exc.reason)  # fmt: skip
                return self._outcome(unknown), False
            failed = self.store.transition(item.key, "failed", run_id=self.run_id,
                                           expect=SENDING if committed else RETRYABLE, attempts=attempts,
                                           reason=exc.reason, permanent=exc.permanent)  # fmt: skip
            return self._outcome(failed), not exc.permanent
        refused = "; ".join(f"{address} refused: {why}" for address, why in sent.refused.items()) or None
        if not committed:  # the provider already had it (an outbox file from before this store), nothing handed over
            refused = refused or "the provider already had it"
        done = self.store.transition(item.key, "sent", run_id=self.run_id, expect=SENDING if committed else RETRYABLE,
                                     provider_id=sent.provider_id, reason=refused)  # fmt: skip
        return self._outcome(done), False

    # ----------------------------------------------------------------- limits
    def _over_limit(self, recipients: int) -> str | None:
        """Why sending ``recipients`` more now would break the daily limit, or None."""
        limit = self.manifest.policies.daily_send_limit
        used = self.store.recipients_since(self.manifest.portfolio.name, self.clock() - WINDOW)
        if used + recipients <= limit:
            return None
        return (f"held: the daily send limit is {limit} recipients per 24 hours (BCC included) and {used} "
                f"went out in the last 24 hours; a later run sends it")  # fmt: skip

    def _pace(self) -> None:
        """Keep to ``policies.send_rate_per_second``."""
        if self._interval:
            wait = self._last_send + self._interval - time.monotonic()
            if wait > 0:
                self.sleep(wait)
            self._last_send = time.monotonic()

    def _keep_lock(self) -> None:
        if self.lock is not None and time.monotonic() - self._lock_renewed > LOCK_TTL / 3:
            self.lock = self.store.renew(self.lock, ttl=LOCK_TTL)
            self._lock_renewed = time.monotonic()

    # ----------------------------------------------------------------- notice
    def _notify(self, problems: list[Outcome]) -> str:
        """Send the audit mailbox the list of what did not go out; say what became of that notice."""
        from execintel.delivery.messages import failure_notice  # noqa: PLC0415

        audit = self.manifest.audit_mailbox
        assert audit is not None  # noqa: S101 - checked by the caller
        key = delivery_key(self.manifest.portfolio.name, NOTICE, self.run_id, NOTICE, audit)
        listed = [(o.report, o.recipient, o.reason or o.state) for o in problems]
        message = failure_notice(self.manifest, key, self.run_id, listed, self.clock())
        item = Planned(key, NOTICE, _audit_stakeholder(audit), None, self.run_id)
        if self._prepare(item, message) is not None:
            return f"the failure notice to {audit} already went out"
        outcome, _again = self._attempt(item, message)
        if outcome.state == "sent":
            return f"a failure notice went to {audit}"
        return f"the failure notice to {audit} could not be sent: {outcome.reason or outcome.state}"


def _audit_stakeholder(address: str) -> Stakeholder:
    return Stakeholder(id="audit", name="execintel audit", email=address, roles=())
