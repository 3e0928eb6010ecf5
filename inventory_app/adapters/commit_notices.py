"""After-commit notifications: the app announces its own commits on `product_changes` and `outbox`.

The tables' triggers (migrations 0003, 0008, 0001) notify inside the writing transaction. A NOTIFY makes
PostgreSQL's commit take a database-wide lock and hold it until the commit is flushed, so every writing
transaction that notifies commits one at a time, and with the relay and both change feeds listening each
commit also wakes three backends. pgbench of an adjustment's statements ran at about two thirds of the
same statements without the triggers (bench/NOTES.md, issue #14).

So the app's pool sessions set `inventory.notify_after_commit = on` (pg_pool.py), which quiets the triggers
(migration 0010), and announce their commits here instead, after the commit:
- In a server process one sender task (`run_forever`, started by the lifespan) sends whatever commits came
  in while its last NOTIFY was on the way in one short transaction: under load one NOTIFY serves many
  commits, and none of them waits for the lock. While other units of work of the process are running it
  waits for them to join, up to `SEND_INTERVAL_S` after the previous send (the unit of work reports when
  each begins and ends); a commit with none running beside it goes at once.
- A request still answers only after its commit is announced (`committed` waits for the send that carries
  it, at most `WAIT_S`), so another worker has normally heard of a change before the client reads it there,
  as it had with the triggers.
- Without a sender on the running loop (the CLI, a test's own loop) `committed` sends at once.
- The sender sends on a connection of its own (autocommit, `synchronous_commit = off`): one statement, one round
  trip per send. Through the pool a send cost three times the CPU (checkout, BEGIN, SET LOCAL, COMMIT, return),
  ~80 µs a request under the write bench (bench/NOTES.md, fifth pass). It opens on the first send and closes
  after `IDLE_CLOSE_S` without one, so an app at rest holds no more connections than before.

Other writers (psql, a script on its own connection) still fire the triggers, so every committed change
reaches every read cache and wakes the relay whoever made it. A process that dies between its commit and
the send loses that announcement only: the relay also polls, and read caches expire entries after their
backstop TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from inventory_app import metrics
from inventory_app.backoff import Backoff

log = logging.getLogger("inventory_app.commit_notices")

PRODUCT_CHANNEL = "product_changes"
OUTBOX_CHANNEL = "outbox"
# The session setting that quiets the triggers (migration 0010).
SESSION_SETTING = "inventory.notify_after_commit"
# A payload holds product ids separated by commas, within PostgreSQL's 8,000-byte limit.
IDS_PER_NOTICE = 200
# More changed products than this at once are announced as "everything changed" (an empty payload, as for a
# TRUNCATE): every cache starts again, and a long outage cannot grow the pending set without bound.
MAX_PENDING_IDS = 10_000
# How long a request waits for its commit to be announced before answering anyway (the sender keeps trying).
WAIT_S = 1.0
# At shutdown, how long the last send of what is still pending may take.
LAST_TRY_S = 2.0
# How long one send on the sender's connection may take before it is given up (and the connection with it).
SEND_TIMEOUT_S = 5.0
# The sender's connection closes after this long without a send.
IDLE_CLOSE_S = 30.0
# How long a commit may wait for other units of work still running in this process, so that one NOTIFY carries
# them all (the default of `COMMIT_NOTICE_INTERVAL_S`). Every NOTIFY wakes every listener (the relay, which then
# runs a Kafka transaction, and each worker's change feed), so under load the number of sends, not their own
# cost, is what counts (bench/NOTES.md, sixth pass). While other units run, sends start at least this far apart;
# a commit with none running beside it (a lone writer, a script writing one change after another) goes at once.
SEND_INTERVAL_S = 0.05
SEND_SQL = "SELECT pg_notify(c, p) FROM unnest(%(channels)s::text[], %(payloads)s::text[]) AS n(c, p)"

SEND_ERRORS = (psycopg.Error, OSError, PoolTimeout, TimeoutError)

PoolGetter = Callable[[], Awaitable[AsyncConnectionPool]]
# Opens the sender's own connection: autocommit, synchronous_commit off (pg_pool.notice_connection).
Connector = Callable[[], Awaitable[psycopg.AsyncConnection]]


def notices(products: set[str] | None, events: bool) -> tuple[list[str], list[str]]:
    """The (channel, payload) pairs announcing these changes: `products` None means everything changed."""
    channels: list[str] = []
    payloads: list[str] = []
    if products is None:
        channels.append(PRODUCT_CHANNEL)
        payloads.append("")
    else:
        ordered = sorted(products)
        for start in range(0, len(ordered), IDS_PER_NOTICE):
            channels.append(PRODUCT_CHANNEL)
            payloads.append(",".join(ordered[start : start + IDS_PER_NOTICE]))
    if events:
        channels.append(OUTBOX_CHANNEL)
        payloads.append("")
    return channels, payloads


class CommitNotices:
    """Announces this process's commits; see the module's docstring."""

    def __init__(self, pool: PoolGetter, connect: Connector | None = None, interval_s: float | None = None) -> None:
        self._pool = pool
        self._interval_s = SEND_INTERVAL_S if interval_s is None else interval_s
        self._connect = connect  # None: the sender uses the pool too (tests)
        self._conn: psycopg.AsyncConnection | None = None
        self._sender_loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        # Units of work of this process that have begun and not yet ended (committed or rolled back).
        self._running = 0
        self._none_running = asyncio.Event()
        self._none_running.set()
        # What is waiting to be announced: changed product ids (None: everything), and whether events were written.
        self._products: set[str] | None = set()
        self._events = False
        self._sent: asyncio.Future[None] | None = None

    def unit_began(self) -> None:
        """A unit of work began: a commit announced while it runs may wait for it to join the same send."""
        self._running += 1
        self._none_running.clear()

    def unit_ended(self) -> None:
        """The unit committed or rolled back (called before `committed`)."""
        self._running -= 1
        if self._running <= 0:
            self._running = 0
            self._none_running.set()

    async def committed(self, products: Iterable[str] = (), *, events: bool = False, everything: bool = False) -> None:
        """Announce a commit: the products it changed, whether it wrote events, or that everything changed."""
        changed: set[str] | None = None if everything else set(products)
        if changed is not None and not changed and not events:
            return
        metrics.COMMITS_ANNOUNCED.inc()
        loop = asyncio.get_running_loop()
        if self._sender_loop is not loop:
            try:
                await self._send(changed, events)
                metrics.COMMIT_NOTICE_SENDS.inc()
            except SEND_ERRORS as error:  # the change is committed: say so, and let the relay's poll find it
                metrics.COMMIT_NOTICE_ERRORS.inc()
                log.warning("commit not announced (%s): other processes' caches may lag until expiry", error)
            return
        self._add(changed, events)
        if self._sent is None:
            self._sent = loop.create_future()
        sent = self._sent
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(sent), WAIT_S)
        except TimeoutError:
            log.warning("a commit was not announced within %.1fs; answering anyway (still trying)", WAIT_S)

    def announce_soon(self, products: Iterable[str], *, events: bool = False) -> None:
        """Announce without waiting (a unit that failed at its commit may have committed): by the sender,
        if one runs on this loop; elsewhere there is nobody to send it, and the read caches' expiry bounds it."""
        if self._sender_loop is not None and self._sender_loop is asyncio.get_running_loop():
            self._add(set(products), events)
            self._wake.set()

    def _add(self, products: set[str] | None, events: bool) -> None:
        if self._products is not None:
            self._products = None if products is None else self._products | products
            if self._products is not None and len(self._products) > MAX_PENDING_IDS:
                self._products = None
        self._events = self._events or events

    async def run_forever(self) -> None:
        """Send pending announcements until cancelled, one statement per round on the sender's own connection
        (the pool's, without a connector); retries with backoff. When cancelled (shutdown), what is still
        pending gets one last, bounded try."""
        self._sender_loop = loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._none_running = asyncio.Event()  # bound to this loop when waited on
        if self._running == 0:
            self._none_running.set()
        backoff = Backoff(0.05, 2.0)
        next_send = loop.time()
        try:
            while True:
                try:
                    async with asyncio.timeout(IDLE_CLOSE_S):  # not wait_for: no task made per round
                        await self._wake.wait()
                except TimeoutError:
                    await self._close_connection()  # idle: an app at rest holds no connection for this
                    continue
                if loop.time() < next_send and not self._none_running.is_set():
                    # Units still running beside this commit: until the interval since the last send is up,
                    # wait for them to end, so that they go out in this one send.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout_at(next_send):
                            await self._none_running.wait()
                self._wake.clear()
                products, events, sent = self._products, self._events, self._sent
                self._products, self._events, self._sent = set(), False, None
                next_send = loop.time() + self._interval_s
                try:
                    await self._send(products, events)
                except BaseException as error:
                    # Put them back: nothing committed goes unannounced.
                    self._add(products, events)
                    self._sent = _joined(sent, self._sent)
                    if not isinstance(error, SEND_ERRORS):
                        raise
                    metrics.COMMIT_NOTICE_ERRORS.inc()
                    delay = backoff.next_delay()
                    log.warning("commit notices not sent (%s); retrying in %.2fs", error, delay)
                    await asyncio.sleep(delay)
                    self._wake.set()
                    continue
                metrics.COMMIT_NOTICE_SENDS.inc()
                backoff.reset()
                if sent is not None and not sent.done():
                    sent.set_result(None)
        finally:
            self._sender_loop = None
            try:
                await self._last_try()
            finally:
                await self._close_connection()

    async def _last_try(self) -> None:
        products, events, sent = self._products, self._events, self._sent
        self._products, self._events, self._sent = set(), False, None
        try:
            if products is None or products or events:
                await asyncio.wait_for(self._send(products, events), LAST_TRY_S)
        except (*SEND_ERRORS, asyncio.CancelledError) as error:
            log.warning("commit notices lost at shutdown (%s): other processes' caches may lag until expiry", error)
        finally:
            if sent is not None and not sent.done():
                sent.set_result(None)  # nobody waits on a sender that stopped

    async def _send(self, products: set[str] | None, events: bool) -> None:
        channels, payloads = notices(products, events)
        if not channels:
            return
        if self._connect is not None and self._sender_loop is asyncio.get_running_loop():
            await self._send_on_own_connection(channels, payloads)
            return
        async with (await self._pool()).connection() as conn:
            # The NOTIFY's own transaction need not wait for its commit record to reach disk: a notice lost
            # in a server crash is moot (every listener reconnects, and its cache starts again).
            async with conn.pipeline():
                await conn.execute("SET LOCAL synchronous_commit = off")
                await conn.execute(SEND_SQL, {"channels": channels, "payloads": payloads})

    async def _send_on_own_connection(self, channels: list[str], payloads: list[str]) -> None:
        """One autocommit statement on the sender's connection; a failed or slow send drops the connection, and the
        caller's retry opens a new one."""
        assert self._connect is not None
        try:
            async with asyncio.timeout(SEND_TIMEOUT_S):
                if self._conn is None or self._conn.closed:
                    self._conn = await self._connect()
                await self._conn.execute(SEND_SQL, {"channels": channels, "payloads": payloads})
        except BaseException:
            await self._close_connection()
            raise

    async def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()


def _joined(earlier: asyncio.Future[None] | None, later: asyncio.Future[None] | None) -> asyncio.Future[None] | None:
    """One future for two waits: the earlier one is resolved when the later one is."""
    if earlier is None or later is None:
        return earlier or later
    later.add_done_callback(lambda _: earlier.done() or earlier.set_result(None))
    return later
