"""The fast path's spill journal: hits the Redis stream could not take, on local disk.

When a batch of hits cannot be written to the stream (Redis down, restarting, loading),
`tracking.fastpath` appends it to this web worker's journal, an append-only file under
`settings.TRACKING_SPILL_DIR`, and answers only once the line is fsynced. Each worker
holds an exclusive `flock` on its own journal for as long as it lives, so a journal
whose lock can be taken belongs to a worker that is gone.

A `Replayer` in every worker moves journaled hits into the stream once Redis answers
again: its own journal (sealed first, so new spills start a new file) and any journal
left by a dead worker. Each line goes in with one script that adds the stream entry and
counts its hits only if that line was never replayed before (a set of replayed line ids
in Redis), and the file is deleted once every line is in: a replay cut short is simply
done again. The ingestor stores a hit once by its id in any case.

A line is one batch: a JSON list of wire hits (see `tracking.fastpath.hit_fields`). A
last line without its newline was being written when its worker died, before any
response for it went out: it is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from config.outages import OutageLog

logger = logging.getLogger(__name__)

Hit = dict[str, str]
ACTIVE = ".journal"  # being written by a live worker (or left by a dead one)
SEALED = ".sealed"  # closed by its worker, waiting for the replayer
REPLAYED_TTL_S = 7 * 24 * 3600  # how long a replayed line's id is remembered

# KEYS: stream, accepted-hits counter, replayed-ids set; ARGV: n, hits JSON, line id.
REPLAY_SCRIPT = (
    "if redis.call('SADD', KEYS[3], ARGV[3]) == 0 then return 0 end "
    "redis.call('EXPIRE', KEYS[3], ARGV[4]) "
    "redis.call('XADD', KEYS[1], '*', 'n', ARGV[1], 'hits', ARGV[2]) "
    "redis.call('INCRBY', KEYS[2], ARGV[1]) "
    "return 1"
)


class JournalError(OSError):
    """The journal could not take a batch: its hits are not recorded anywhere."""


class SpillJournal:
    """This worker's journal: opened (and locked) on the first spill, sealed by the
    replayer before it replays it."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.file: IO[bytes] | None = None
        self.path: Path | None = None
        self.spilled = 0  # hits journaled by this worker, ever
        # Appends and the seal run in threads, one at a time.
        self.lock = asyncio.Lock()

    async def spill(self, hits: list[Hit]) -> None:
        async with self.lock:
            await asyncio.to_thread(self.append, hits)

    async def seal_now(self) -> None:
        async with self.lock:
            await asyncio.to_thread(self.seal)

    def append(self, hits: list[Hit]) -> None:
        """Write one batch and fsync it; raises JournalError when it is not durable."""
        try:
            if self.file is None:
                self._open()
            assert self.file is not None
            self.file.write(orjson.dumps(hits) + b"\n")
            self.file.flush()
            os.fsync(self.file.fileno())
        except OSError as exc:
            self._close()  # the next spill starts a new file
            raise JournalError(f"spill journal {self.directory}: {exc}") from exc
        self.spilled += len(hits)

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}{ACTIVE}"
        path = self.directory / name
        file = open(path, "ab")  # noqa: SIM115 - held open for the worker's life
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # The new name must survive a crash too.
            directory = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError:
            file.close()
            raise
        self.file, self.path = file, path

    def _close(self) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.close()
        self.file = self.path = None

    def seal(self) -> None:
        """Close this worker's journal under its sealed name (if it has one)."""
        if self.file is None or self.path is None:
            return
        path = self.path
        path.rename(path.with_suffix(SEALED))  # still locked: not replayed twice
        self._close()

    def owns(self, path: Path) -> bool:
        return self.path is not None and path.name == self.path.name


@dataclass(frozen=True)
class JournalFile:
    path: str
    bytes: int
    batches: int
    hits: int
    active: bool  # still open in a live worker (locked)


def journal_paths(directory: str | Path) -> list[Path]:
    folder = Path(directory)
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.suffix in (ACTIVE, SEALED))


def read_lines(data: bytes) -> list[tuple[int, list[Hit]]]:
    """(offset, hits) of each complete, readable line."""
    lines = []
    offset = 0
    for raw in data.split(b"\n")[:-1]:  # the last piece has no newline
        try:
            hits = orjson.loads(raw)
            if not isinstance(hits, list):
                raise ValueError("not a list")
            lines.append((offset, hits))
        except ValueError as exc:
            logger.error("unreadable spill journal line at %s: %s", offset, exc)
        offset += len(raw) + 1
    return lines


def _locked_by_someone(path: Path) -> bool:
    try:
        with open(path, "rb") as file:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            return False
    except FileNotFoundError:
        return False


def journal_files(directory: str | Path) -> list[JournalFile]:
    """What the journals of this directory hold (for `manage.py tracking_status`)."""
    found = []
    for path in journal_paths(directory):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue  # replayed meanwhile
        lines = read_lines(data)
        found.append(
            JournalFile(
                path=str(path),
                bytes=len(data),
                batches=len(lines),
                hits=sum(len(hits) for _, hits in lines),
                active=_locked_by_someone(path),
            )
        )
    return found


class Replayer:
    """Moves journaled hits into the stream when Redis is back (one per web worker)."""

    def __init__(
        self,
        journal: SpillJournal,
        client: Any,  # redis.asyncio.Redis
        stream: str,
        *,
        interval: float = 1.0,
    ) -> None:
        self.journal = journal
        self.client = client
        self.stream = stream
        self.interval = interval
        self.script = client.register_script(REPLAY_SCRIPT)
        self.replayed = 0  # hits moved into the stream by this worker
        # Hits recorded nowhere ("lost": opens, "refused": clicks), not yet counted
        # in Redis (`<stream>:lost`, `<stream>:refused`).
        self.unreported: Counter[str] = Counter()
        self.task: asyncio.Task[None] | None = None
        self.outage = OutageLog(
            logger,
            "spill journal replay waits: %s",
            "spill journal replay resumed after %.1f s (%s attempts)",
        )

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.replay()
            except Exception as exc:  # Redis still down, or the disk: try again later
                self.outage.failed(exc)
            else:
                self.outage.over()

    async def replay(self) -> int:
        """Replay every journal that can be taken; returns how many hits went in."""
        for metric, count in list(self.unreported.items()):
            if count:
                await self.client.incrby(f"{self.stream}:{metric}", count)
                self.unreported[metric] -= count
        paths = await asyncio.to_thread(journal_paths, self.journal.directory)
        if not paths:
            return 0
        await self.client.ping()  # only seal once the stream can take the hits
        if any(self.journal.owns(path) for path in paths):
            await self.journal.seal_now()
            paths = await asyncio.to_thread(journal_paths, self.journal.directory)
        moved = 0
        for path in paths:
            if not self.journal.owns(path):
                moved += await self.replay_file(path)
        return moved

    async def replay_file(self, path: Path) -> int:
        """One journal into the stream, then deleted; 0 if another process holds it."""
        file = await asyncio.to_thread(_take, path)
        if file is None:
            return 0
        try:
            data = await asyncio.to_thread(file.read)
            moved = 0
            for offset, hits in read_lines(data):
                line_id = f"{path.stem}:{offset}"
                added = await self.script(
                    keys=[
                        self.stream,
                        f"{self.stream}:hits",
                        f"{self.stream}:replayed",
                    ],
                    args=[len(hits), orjson.dumps(hits), line_id, REPLAYED_TTL_S],
                )
                if added:
                    moved += len(hits)
            await asyncio.to_thread(path.unlink)
        finally:
            await asyncio.to_thread(file.close)
        if moved:
            logger.info("replayed %s journaled hits from %s", moved, path.name)
        self.replayed += moved
        return moved


def _take(path: Path) -> IO[bytes] | None:
    """The journal, opened and locked; None when a live process holds it."""
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed by the caller
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.close()
        return None
    if not path.exists():  # replayed and deleted by another process meanwhile
        file.close()
        return None
    return file
