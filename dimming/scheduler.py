"""The plan scheduler: resolve every lamp's plan, push the ones that changed, retry the unanswered.

One replica leads (dimming.leader) and writes only through the leadership's own connection,
so a replica that has lost the lock cannot write any more. docs/dimming.md says what is
pushed and when.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from core.contract import PlanPoint, utc_now
from core.mqtt import BrokerConfig
from dimming import push_store
from dimming.leader import Leadership, replica_name
from dimming.publisher import PlanPublisher
from dimming.push import (
    ChangeDetector,
    LatestPlan,
    PlanEncoder,
    Points,
    PushReason,
    generation_time,
    plan_points,
    retry_due,
)
from dimming.store import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

CHANNEL = NOTIFY_CHANNEL
# Payloads of requests to the active scheduler (from the API or the CLI); any other
# payload on the channel is a change notice from dimming/store.py.
PUSH_REQUEST = "push:changed"
PUSH_ALL_REQUEST = "push:all"
# Plans stamped pushed per transaction, and tries of one such transaction that meets a deadlock.
STAMP_CHUNK = 5000
STAMP_ATTEMPTS = 5

# (connection, start, hours, town time zone) -> lamp id -> resolved points
PlanSource = Callable[[psycopg.Connection, datetime, int, ZoneInfo], Mapping[str, Sequence[PlanPoint]]]


def resolve_from_store(conn: psycopg.Connection, start: datetime, hours: int, tz: ZoneInfo):
    """Every scheduled lamp's points, from the stored profiles, calendar and overrides."""
    from dimming import resolve, store

    config = store.load_config(conn, start)
    lamps = store.load_lamps(conn)
    return resolve.resolve_plans(config, lamps, start, hours, tz)


@dataclass(frozen=True, slots=True)
class SchedulerOptions:
    database_url: str
    broker: BrokerConfig
    topic_prefix: str
    client_id: str  # of the plan publisher; one per replica, or replicas push each other off the broker
    horizon_hours: int = 72
    town_timezone: str = "Europe/Paris"
    check_interval_s: float = 60.0  # full check besides notifications
    retry_check_s: float = 15.0  # how often unanswered plans are looked at
    leader_poll_s: float = 2.0  # how often a waiting replica tries to take over
    debounce_s: float = 0.3  # notifications arriving together make one cycle
    prune_every_s: float = 24 * 3600.0
    publish_timeout_s: float = 120.0  # the longest the broker may acknowledge nothing during a push
    name: str = field(default_factory=replica_name)


@dataclass(slots=True)
class CycleResult:
    lamps: int = 0  # lamps resolved
    new_versions: Counter = field(default_factory=Counter)  # PushReason -> count
    retried: int = 0
    published: int = 0
    taken: int = 0  # acknowledged by the broker
    seconds: float = 0.0
    resolve_s: float = 0.0  # reading the configuration and lamps, resolving
    compare_s: float = 0.0  # deciding which lamps get a new version, encoding it
    record_s: float = 0.0  # writing the new versions to plan_pushes
    publish_s: float = 0.0  # until the broker took them, and pushed_at is stamped

    def describe(self) -> str:
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(self.new_versions.items())) or "none"
        return (
            f"{self.lamps} lamps resolved; new versions: {reasons}; {self.retried} unanswered sent again;"
            f" broker took {self.taken} of {self.published} in {self.seconds:.1f} s"
        )


class NotLeading(RuntimeError):
    """The scheduler lock is held by another replica."""


class PlanScheduler:
    """Run `run(stop)` in a thread (or `start()`/`stop()`); `push_once()` for a single cycle."""

    def __init__(
        self,
        options: SchedulerOptions,
        *,
        source: PlanSource = resolve_from_store,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.options = options
        self.source = source
        self.clock = clock
        self.tz = ZoneInfo(options.town_timezone)
        self.horizon = timedelta(hours=options.horizon_hours)
        self.leadership = Leadership(options.database_url, name=options.name)
        self._publisher: PlanPublisher | None = None
        self._latest: dict[str, LatestPlan] = {}
        self._encoder = PlanEncoder()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.cycles = 0
        self.last_result: CycleResult | None = None

    # --- as a thread of the service ---------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, args=(self._stop,), name="plan-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    @property
    def leading(self) -> bool:
        return self.leadership.held

    def run(self, stop: threading.Event) -> None:
        """Wait for the lock, lead while holding it, wait again if it is lost; until `stop`."""
        waiting_logged = False
        while not stop.is_set():
            try:
                acquired = self.leadership.try_acquire()
            except psycopg.Error as exc:
                log.warning("plan scheduler: database unavailable (%s); trying again", _first_line(exc))
                self.leadership.lost()
                stop.wait(max(self.options.leader_poll_s, 2.0))
                continue
            if not acquired:
                if not waiting_logged:
                    log.info("plan scheduler %s: another replica is active; standing by", self.options.name)
                    waiting_logged = True
                stop.wait(self.options.leader_poll_s)
                continue
            waiting_logged = False
            try:
                self._lead(stop)
            except psycopg.Error as exc:
                log.warning("plan scheduler: database session lost (%s)", _first_line(exc))
                self.leadership.lost()
                # Stand back for a few polls: a replica that is still healthy takes over, and a
                # database that is restarting is not hammered.
                stop.wait(max(2.0, 4 * self.options.leader_poll_s))
            except Exception:
                log.exception("plan scheduler failed; stepping down")
                self.leadership.release()
                stop.wait(self.options.leader_poll_s)
            finally:
                self._close_publisher()
        self.leadership.release()
        self._close_publisher()

    def _lead(self, stop: threading.Event) -> None:
        conn = self.leadership.connection
        log.info("plan scheduler %s is the active scheduler", self.options.name)
        conn.execute(f"LISTEN {CHANNEL}")
        self._take_over()
        self._safe_cycle(force_all=False)
        now = time.monotonic()
        next_check = now + self.options.check_interval_s
        next_retry = now + self.options.retry_check_s
        next_prune = now + min(3600.0, self.options.prune_every_s)
        while not stop.is_set():
            wait_s = max(0.0, min(next_check, next_retry, next_prune) - time.monotonic())
            payloads = [n.payload for n in conn.notifies(timeout=min(wait_s, 1.0), stop_after=1)]
            if payloads:
                # Edits often come in bursts (a profile and its assignments): take them together.
                payloads += [n.payload for n in conn.notifies(timeout=self.options.debounce_s)]
                force_all = PUSH_ALL_REQUEST in payloads
                log.info("plan scheduler: %d change notice(s); checking every lamp", len(payloads))
                self._safe_cycle(force_all=force_all)
                next_check = time.monotonic() + self.options.check_interval_s
                next_retry = time.monotonic() + self.options.retry_check_s
                continue
            now = time.monotonic()
            if now >= next_check:
                self._safe_cycle(force_all=False)
                next_check = time.monotonic() + self.options.check_interval_s
                next_retry = time.monotonic() + self.options.retry_check_s
            elif now >= next_retry:
                self._retry_unanswered()
                next_retry = time.monotonic() + self.options.retry_check_s
            if now >= next_prune:
                next_prune = time.monotonic() + self.options.prune_every_s
                try:
                    removed = push_store.prune_history(conn)
                except psycopg.OperationalError:
                    raise
                except psycopg.Error as exc:
                    log.warning("plan scheduler: could not forget old plan versions (%s)", _first_line(exc))
                else:
                    if removed:
                        log.info("plan scheduler: forgot %d old plan versions", removed)

    def _take_over(self) -> None:
        started = time.monotonic()
        self._latest = push_store.load_latest(self.leadership.connection)
        log.info(
            "plan scheduler: %d lamps have plans on record (read in %.1f s)",
            len(self._latest),
            time.monotonic() - started,
        )

    def _safe_cycle(self, *, force_all: bool) -> CycleResult | None:
        try:
            return self.cycle(force_all=force_all)
        except psycopg.OperationalError:
            raise
        except Exception as exc:
            # A bad configuration or a broker that does not answer must not stop the
            # scheduler: it says so and tries again at the next notice or check, from
            # what is on record (versions it made but could not record are forgotten).
            log.exception("plan scheduler: this check failed (%s); trying again later", _first_line(exc))
            self._take_over()
            return None

    # --- one cycle ------------------------------------------------------------------
    def push_once(self, *, force_all: bool = False) -> CycleResult:
        """Take the lock, run one cycle, let go (the CLI's `dimming push`). NotLeading if another leads."""
        if not self.leadership.try_acquire():
            raise NotLeading("another replica is the active plan scheduler")
        try:
            self._take_over()
            return self.cycle(force_all=force_all)
        finally:
            self._close_publisher()
            self.leadership.release()

    def cycle(self, *, force_all: bool = False) -> CycleResult:
        """Resolve every lamp, record and publish new versions, and re-send what is due."""
        started = time.monotonic()
        conn = self.leadership.connection
        result = CycleResult()
        now = self.clock()
        generated_at = generation_time(now)
        end = generated_at + self.horizon
        resolved = self.source(conn, generated_at, self.options.horizon_hours, self.tz)
        result.lamps = len(resolved)
        result.resolve_s = time.monotonic() - started
        log.info("plan scheduler: resolved %d lamps in %.1f s", len(resolved), result.resolve_s)
        mark = time.monotonic()

        # Lamps of one place and rule share their PlanPoint objects: convert each such list once.
        # (`resolved` keeps the points alive, so their ids are not reused meanwhile.)
        windowed: dict[tuple[int, ...], Points] = {}
        changes = ChangeDetector(now, self.horizon)
        new_rows: list[tuple[str, int, bytes]] = []
        for lamp_id, points in resolved.items():
            key = tuple(map(id, points))
            new_points = windowed.get(key)
            if new_points is None:
                new_points = windowed[key] = plan_points(points, generated_at, end)
            latest = self._latest.get(lamp_id)
            reason = PushReason.REQUESTED if force_all else changes.reason(latest, new_points)
            if reason is None:
                continue
            version = (latest.version if latest else 0) + 1
            new_rows.append((lamp_id, version, self._encoder.encode(version, generated_at, new_points)))
            self._latest[lamp_id] = LatestPlan(version, new_points, None, 0, False)
            result.new_versions[reason] += 1
        result.compare_s = time.monotonic() - mark
        mark = time.monotonic()
        if new_rows:
            with conn.transaction():
                push_store.insert_versions(conn, new_rows)
            log.info(
                "plan scheduler: %d new plan versions (%s)",
                len(new_rows),
                ", ".join(f"{n} {reason}" for reason, n in result.new_versions.items()),
            )
        resent = self._due_retries(now, exclude={row[0] for row in new_rows}, among=resolved)
        result.retried = len(resent)
        result.record_s = time.monotonic() - mark
        mark = time.monotonic()
        self._publish(new_rows + resent, result)
        result.publish_s = time.monotonic() - mark
        result.seconds = time.monotonic() - started
        self.cycles += 1
        self.last_result = result
        if new_rows or resent:
            log.info("plan scheduler: %s", result.describe())
        return result

    def _retry_unanswered(self) -> None:
        try:
            resent = self._due_retries(self.clock(), exclude=set(), among=None)
            if resent:
                result = CycleResult(retried=len(resent))
                self._publish(resent, result)
                log.info("plan scheduler: sent %d unanswered plans again; broker took %d", len(resent), result.taken)
        except psycopg.OperationalError:
            raise
        except Exception as exc:
            log.warning("plan scheduler: retry check failed (%s); trying again later", _first_line(exc))

    def _due_retries(
        self, now: datetime, *, exclude: set[str], among: Mapping[str, object] | None
    ) -> list[tuple[str, int, bytes]]:
        conn = self.leadership.connection
        outstanding = [
            (lamp_id, latest.version)
            for lamp_id, latest in self._latest.items()
            if not latest.answered and lamp_id not in exclude and (among is None or lamp_id in among)
        ]
        if not outstanding:
            return []
        for key in push_store.answered(conn, outstanding):
            self._latest[key[0]] = replace(self._latest[key[0]], answered=True)
        due = [(lamp_id, v) for lamp_id, v in outstanding if retry_due(self._latest[lamp_id], now)]
        return push_store.stored_plans(conn, due)

    def _publish(self, rows: list[tuple[str, int, bytes]], result: CycleResult) -> None:
        if not rows:
            return
        if not self.leadership.still_held():
            raise psycopg.OperationalError("the scheduler lock was lost before publishing")
        publisher = self._ensure_publisher()
        versions = {lamp_id: version for lamp_id, version, _ in rows}
        result.published += len(rows)
        taken = publisher.publish_plans(
            ((lamp_id, payload) for lamp_id, _, payload in rows),
            timeout_s=self.options.publish_timeout_s,
            progress=lambda n: log.info("plan scheduler: %d of %d plans published", n, len(rows)),
        )
        result.taken += len(taken)
        at = self.clock()
        keys = [(lamp_id, versions[lamp_id]) for lamp_id in taken]
        self._stamp_pushed(keys, at)
        for lamp_id, version in keys:
            latest = self._latest.get(lamp_id)
            if latest is not None and latest.version == version:
                self._latest[lamp_id] = replace(latest, pushed_at=at, attempts=latest.attempts + 1)

    def _stamp_pushed(self, keys: list[tuple[str, int]], at: datetime) -> None:
        """`pushed_at` for what the broker took, in short transactions that yield to the ingester.

        The ingester stamps answers on the same rows meanwhile, in its own order: one statement
        over a whole town deadlocks with it, and a deadlock is worth another try, not the lock.
        """
        conn = self.leadership.connection  # autocommit: each chunk is its own transaction
        keys = sorted(keys)
        for start in range(0, len(keys), STAMP_CHUNK):
            chunk = keys[start : start + STAMP_CHUNK]
            for attempt in range(1, STAMP_ATTEMPTS + 1):
                try:
                    push_store.mark_pushed(conn, chunk, at)
                    break
                except psycopg.errors.DeadlockDetected:
                    if attempt == STAMP_ATTEMPTS:
                        raise
                    log.info("plan scheduler: stamping pushed plans met a deadlock; trying again")

    def _ensure_publisher(self) -> PlanPublisher:
        if self._publisher is None:
            publisher = PlanPublisher(
                self.options.broker, topic_prefix=self.options.topic_prefix, client_id=self.options.client_id
            )
            publisher.connect()
            self._publisher = publisher
        return self._publisher

    def _close_publisher(self) -> None:
        if self._publisher is not None:
            self._publisher.close()
            self._publisher = None


def request_push(conn: psycopg.Connection, *, everything: bool = False) -> None:
    """Ask the active scheduler to check every lamp now (and push every plan again if `everything`)."""
    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, PUSH_ALL_REQUEST if everything else PUSH_REQUEST))


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
