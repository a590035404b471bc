"""Moving attachment bytes between the station and the hub, after the records.

A sync round pushes and pulls records first; only then do files move, chunk by chunk, each
chunk acknowledged on its own. Before sending, the station asks which chunks the hub lacks:
a file the hub has whole (from this station's last, cut attempt, or from another station that
attached the same photo) is never sent again, and a cut transfer resumes at the next missing
chunk. Two requests are kept in flight on two connections, so a slow link's round trip and a
dropped connection's handshake hide behind the other's transfer. Records written while a file
moves go up between two chunks: a photo never holds a record back.

Files come down only for the cases this station opened and that are still open, or when a
clerk opens one (`Attachments.to_fetch`), and a per-sync byte budget can cap both directions
on a metered link.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field

from station.attachments import Attachments
from station.store import Store
from sync import attachments as files
from sync.client import Client
from sync.errors import SyncError, TownshipError, ValidationError

WORKERS = 2
# Failed requests in a row before a transfer stops until the next round (the daemon's backoff
# takes over): a 2G link drops every few hundred KB, and each drop costs one retry here.
RETRIES = 8
RETRY_WAIT_S = 0.5


@dataclass
class Budget:
    """Attachment bytes one sync may move (None: no limit), shared by both directions."""

    limit: int | None
    used: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, size: int) -> bool:
        with self._lock:
            if self.limit is not None and self.used + size > self.limit:
                return False
            self.used += size
            return True


def budget_of(store: Store, left: int | None = None) -> Budget:
    """The `attachment_budget` setting (bytes per sync; unset or 0: no limit), within `left`:
    what the records left of the round's byte budget (None: the round has none)."""
    value = int(store.settings().get("attachment_budget") or 0) or None
    if left is not None:
        value = left if value is None else min(value, left)
    return Budget(value)


@dataclass
class TransferResult:
    files_done: int = 0  # files now whole at their destination
    files_known: int = 0  # files the hub already had whole: nothing sent
    chunks: list[tuple[str, int]] = field(default_factory=list)  # acknowledged, in order
    requests: int = 0  # chunk requests made, failed ones included
    bytes: int = 0  # chunk bytes moved (acknowledged)
    over_budget: bool = False
    refused: dict[str, SyncError] = field(default_factory=dict)  # sha256 -> the hub's reason


@dataclass(frozen=True)
class _Job:
    sha256: str
    idx: int
    size: int
    run: Callable[[Client], bool]  # moves the chunk; True when that completed its file


Between = Callable[[Client], None]


def _pump(jobs: list[_Job], client: Client, budget: Budget, result: TransferResult,
          done: Callable[[str], None], between: Between | None = None,
          retries: int = RETRIES, report: Callable[[TransferResult], None] | None = None) -> None:
    """Run the jobs on WORKERS connections; raise the error that stopped them, if any."""
    if not jobs:
        return
    todo: queue.SimpleQueue[_Job] = queue.SimpleQueue()
    for job in jobs:
        todo.put(job)
    stop = threading.Event()
    lock = threading.Lock()
    errors: list[Exception] = []
    skip: set[str] = set()

    def work(c: Client) -> None:
        failures = 0
        while not stop.is_set():
            if between is not None:
                # A failed push leaves the records for the next round; the chunk may still go.
                with suppress(TownshipError):
                    between(c)
            try:
                job = todo.get_nowait()
            except queue.Empty:
                return
            if job.sha256 in skip:
                continue
            if not budget.take(job.size):
                result.over_budget = True
                stop.set()
                return
            with lock:
                result.requests += 1
            try:
                completed = job.run(c)
            except SyncError as exc:
                if not exc.retryable:  # refused: this file stops, the others go on
                    with lock:
                        skip.add(job.sha256)
                        result.refused[job.sha256] = exc
                    continue
                todo.put(job)
                failures += 1
                if failures > retries:
                    errors.append(exc)
                    stop.set()
                    return
                time.sleep(min(RETRY_WAIT_S * failures, 5.0))
                continue
            except Exception as exc:  # a disk error, a bug: stop, and say it in the caller's thread
                errors.append(exc)
                stop.set()
                return
            failures = 0
            with lock:
                result.chunks.append((job.sha256, job.idx))
                result.bytes += job.size
            if completed:
                done(job.sha256)
            if report is not None:
                report(result)

    clients = [client] + [client.copy() for _ in range(WORKERS - 1)]
    threads = [threading.Thread(target=work, args=(c,), name=f"transfer-{i}", daemon=True)
               for i, c in enumerate(clients)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for c in clients[1:]:
            client.bytes_sent += c.bytes_sent
            client.bytes_received += c.bytes_received
            c.session.close()
    if errors:
        raise errors[0]


def send(store: Store, client: Client, budget: Budget, between: Between | None = None,
         retries: int = RETRIES, report: Callable[[TransferResult], None] | None = None,
         result: TransferResult | None = None) -> TransferResult:
    """Send every whole file here the hub lacks, resuming at the chunks it has not got.
    (`result`: filled in as chunks are acknowledged, so it tells how far a cut one got.)"""
    attachments = Attachments(store)
    result = result if result is not None else TransferResult()
    waiting = attachments.to_send()
    if not waiting:
        return result
    jobs: list[_Job] = []
    for start in range(0, len(waiting), 1000):  # the hub answers at most 1,000 files a request
        part = waiting[start:start + 1000]
        missing = client.missing_chunks(part)
        for sha256, size in part:
            needed = missing.get(sha256)
            if needed == []:  # the hub has it whole (ours from before, or another station's)
                attachments.mark_sent(sha256)
                result.files_known += 1
                continue
            for idx in needed or range(files.chunk_count(size)):
                jobs.append(_Job(sha256, idx, files.chunk_length(size, idx),
                                 _sender(attachments, sha256, size, idx)))

    def done(sha256: str) -> None:
        attachments.mark_sent(sha256)
        result.files_done += 1

    _pump(jobs, client, budget, result, done, between, retries, report)
    return result


def _sender(attachments: Attachments, sha256: str, size: int, idx: int) -> Callable[[Client], bool]:
    def run(c: Client) -> bool:
        return c.put_chunk(sha256, size, idx, attachments.chunk(sha256, idx))
    return run


def fetch(store: Store, client: Client, budget: Budget, only: str | None = None,
          retries: int = RETRIES, report: Callable[[TransferResult], None] | None = None,
          result: TransferResult | None = None) -> TransferResult:
    """Bring down the files this station should hold (see `Attachments.to_fetch`), or just
    attachment `only`; a file the hub has not got whole yet is left for a later round."""
    attachments = Attachments(store)
    result = result if result is not None else TransferResult()
    jobs = [_Job(sha256, idx, files.chunk_length(size, idx),
                 _fetcher(attachments, attachment_id, sha256, size, idx))
            for attachment_id, sha256, size in attachments.to_fetch(only)
            for idx in attachments.missing_chunks(sha256, size)]

    def done(sha256: str) -> None:
        result.files_done += 1

    _pump(jobs, client, budget, result, done, None, retries, report)
    return result


def _fetcher(attachments: Attachments, attachment_id: str, sha256: str, size: int,
             idx: int) -> Callable[[Client], bool]:
    def run(c: Client) -> bool:
        data = c.attachment_chunk(attachment_id, idx)
        try:
            return attachments.put_chunk(sha256, size, idx, data)
        except ValidationError as exc:  # the hub sent a chunk of the wrong length
            raise SyncError(f"县级平台发来的附件块有误：{exc.zh}",
                            f"a bad chunk from the hub: {exc.en}") from exc
    return run
