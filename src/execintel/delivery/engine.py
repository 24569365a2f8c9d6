"""Exactly-once delivery of a run's messages through a mailer, recorded in the store.

Each delivery moves through recorded states::

    rendered ──> sending ──> sent
       │  ▲          │
       │  └──────────┴──> failed (permanent, or transient and retried)
       ├──> held        (the daily send limit is reached; sent by a later run)
       └──> suppressed  (the address bounced or complained)

"sending" is recorded by the mailer's commit hook immediately before the hand-off to the provider, so a run
killed at any point leaves every delivery either before the hand-off (it is sent again) or at it (the next run
asks the mailer what became of it: :meth:`Mailer.reconcile`). A delivery already "sent" is never sent again.
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
from execintel.delivery.mailers.base import Mailer, MailerError, Reconciled
from execintel.delivery.plan import NOTICE, Planned, delivery_key
from execintel.errors import DeliveryError
from execintel.store import Delivery, DeliveryState, Lock, StateConflict, Store

log = logging.getLogger(__name__)

RETRYABLE: tuple[DeliveryState, ...] = ("rendered", "failed", "held", "suppressed")  # may be (re)sent from these
SENDING: tuple[DeliveryState, ...] = ("sending",)
WINDOW = dt.timedelta(hours=24)
LOCK_TTL = 300.0


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
        progress: Callable[[Outcome], None] | None = None,
    ) -> None:  # fmt: skip
        self.store, self.mailer, self.manifest, self.run_id = store, mailer, manifest, run_id
        self.retry, self.resend_unknown, self.lock = retry, resend_unknown, lock
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
        pending: list[Planned] = []
        for item in planned:
            outcome = self._prepare(item, messages[item.key])
            if outcome is None:
                pending.append(item)
            else:
                self._done(result, outcome)
        for round_ in range(self.retry.attempts):
            retry_later = []
            for item in pending:
                outcome, again = self._attempt(item, messages[item.key])
                if again and round_ + 1 < self.retry.attempts:
                    retry_later.append(item)
                else:
                    self._done(result, outcome)
            if not retry_later:
                break
            delay = backoff(self.retry, round_, self.rng)
            log.info("retrying %d deliveries in %.1f s", len(retry_later), delay)
            self.sleep(delay)
            pending = retry_later
        result.outcomes.sort(key=lambda o: (o.report, o.recipient))
        if result.problems and self.manifest.audit_mailbox:
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
        if delivery.state != "sending":
            return None
        answer = self.mailer.reconcile(message)
        if answer.status is Reconciled.SENT:
            sent = self.store.transition(item.key, "sent", run_id=self.run_id, expect=SENDING,
                                         provider_id=answer.provider_id or delivery.provider_id or "unknown",
                                         reason=answer.note or None)  # fmt: skip
            return self._outcome(sent)
        if answer.status is Reconciled.NOT_SENT or self.resend_unknown:
            note = answer.note or "the previous run stopped before handing it over"
            self.store.transition(item.key, "rendered", run_id=self.run_id, expect=SENDING, reason=note)
            return None
        return Outcome(item.key, item.report, item.recipient, "unknown", delivery.attempts, None,
                       answer.note or "a run stopped while handing it to the provider")  # fmt: skip

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
        self._pace()
        attempts = delivery.attempts + 1
        committed = False

        def commit() -> None:
            nonlocal committed
            self.store.transition(item.key, "sending", run_id=self.run_id, expect=RETRYABLE, attempts=attempts,
                                  mailer=self.mailer.url)  # fmt: skip
            committed = True

        try:
            sent = self.mailer.send(message, commit)
        except StateConflict as exc:  # another process changed it: it is theirs now
            log.warning("%s", exc)
            current = self.store.get_delivery(item.key) or delivery
            return self._outcome(current, "already-sent" if current.state == "sent" else None), False
        except MailerError as exc:
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
