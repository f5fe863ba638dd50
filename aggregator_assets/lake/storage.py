"""One lake API over local folders and S3, so assets never know where they run.

Every file is written under `_staging/` first and moved into place only when complete: a local
rename, or an S3 server-side copy, makes it appear whole or not at all. A crashed run leaves at
most an orphan in `_staging/`, which no reader looks at.

A writer may also make the move conditional (`replaces`): right before the move, the file in
place is shown to it and it decides whether the new one may replace it. That is how an hour
file built from an older landing cover never replaces one built from a newer cover, whatever
the order in which concurrent runs finish. On a local disk, the check and the move hold an
exclusive lock on the destination folder (flock), so two publishers cannot interleave. S3 has
no such lock: the check runs right before the server-side copy, which leaves a window of one
request between them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import posixpath
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

if TYPE_CHECKING:  # pyarrow.dataset imports pandas: about a second for every process loading
    import pyarrow.dataset as ds

STAGING_DIR = "_staging"
PARQUET_OPTIONS = {"compression": "zstd", "write_statistics": True}


@dataclass(frozen=True)
class S3Options:
    """Where S3 is and how long to wait for it.

    A call that gets no answer gives up after about `max_attempts` x `request_timeout_s` (a
    request is abandoned when less than a byte per second arrived for that long), or
    `connect_timeout_s` per attempt when no connection is made; None keeps the AWS SDK defaults
    (3 s and 1 s).
    """

    endpoint_url: str | None = None
    region: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    session_token: str | None = None
    connect_timeout_s: float | None = None
    request_timeout_s: float | None = None
    max_attempts: int = 5


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the lake root
    size: int
    mtime: datetime | None


class Lake:
    """A lake rooted at a local folder or an `s3://bucket/prefix` URL."""

    def __init__(self, url: str, s3: S3Options | None = None):
        self.url = url.rstrip("/")
        self.s3 = s3 or S3Options()
        if self.url.startswith("s3://"):
            s3 = self.s3
            scheme = "http" if (s3.endpoint_url or "").startswith("http://") else "https"
            self.fs: pafs.FileSystem = pafs.S3FileSystem(
                endpoint_override=s3.endpoint_url,
                scheme=scheme,
                region=s3.region or "us-east-1",
                access_key=s3.access_key,
                secret_key=s3.secret_key,
                session_token=s3.session_token,
                allow_bucket_creation=False,
                connect_timeout=s3.connect_timeout_s,
                request_timeout=s3.request_timeout_s,
                retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=s3.max_attempts),
            )
            self.root = self.url[len("s3://") :]
        else:
            local = Path(self.url).expanduser().resolve()
            local.mkdir(parents=True, exist_ok=True)
            self.fs = pafs.LocalFileSystem()
            self.root = local.as_posix()
            self.url = self.root

    @property
    def is_s3(self) -> bool:
        return isinstance(self.fs, pafs.S3FileSystem)

    def path(self, relative: str) -> str:
        return posixpath.join(self.root, relative) if relative else self.root

    def uri(self, relative: str) -> str:
        """What a user pastes into DuckDB or `aws s3 ls` to find this path."""
        full = self.path(relative)
        return f"s3://{full}" if self.is_s3 else full

    # -- reading ---------------------------------------------------------------------------

    def exists(self, relative: str) -> bool:
        return self.fs.get_file_info(self.path(relative)).type != pafs.FileType.NotFound

    def list_files(self, relative: str, suffix: str = "", recursive: bool = False) -> list[str]:
        """Relative paths of files under a folder, sorted; [] when the folder does not exist."""
        selector = pafs.FileSelector(self.path(relative), allow_not_found=True, recursive=recursive)
        prefix_len = len(self.root) + 1
        return sorted(
            info.path[prefix_len:]
            for info in self.fs.get_file_info(selector)
            if info.type == pafs.FileType.File and info.path.endswith(suffix)
        )

    def file_infos(self, relative: str, recursive: bool = False) -> list[FileEntry]:
        """Files under a folder with their size and modification time; [] when it is absent."""
        selector = pafs.FileSelector(self.path(relative), allow_not_found=True, recursive=recursive)
        prefix_len = len(self.root) + 1
        return sorted(
            (
                FileEntry(info.path[prefix_len:], info.size, info.mtime)
                for info in self.fs.get_file_info(selector)
                if info.type == pafs.FileType.File
            ),
            key=lambda e: e.path,
        )

    def read_bytes(self, relative: str) -> bytes:
        with self.fs.open_input_stream(self.path(relative)) as stream:
            return stream.read()

    def read_table(self, relative: str, **kwargs) -> pa.Table:
        return pq.read_table(self.path(relative), filesystem=self.fs, **kwargs)

    def parquet_file(self, relative: str) -> pq.ParquetFile:
        return pq.ParquetFile(self.fs.open_input_file(self.path(relative)))

    @contextlib.contextmanager
    def parquet_snapshot(self, relative: str) -> Iterator[pq.ParquetFile | None]:
        """A Parquet file as it is now, unchanged if it is replaced while read; None if absent.

        Locally an open file keeps the version it opened. On S3, ranged reads of an object
        replaced meanwhile would mix two versions, so the object is first copied (server-side,
        whole) to `_staging/` and read from there.
        """
        source = self.path(relative)
        if not self.is_s3:
            try:
                handle = self.fs.open_input_file(source)
            except FileNotFoundError:
                handle = None
            if handle is None:
                yield None
                return
            with handle:
                yield pq.ParquetFile(handle)
            return
        staged = self._staging_path(".parquet")
        try:
            self.fs.copy_file(source, staged)
        except OSError:
            if self.exists(relative):
                raise
            yield None
            return
        try:
            with self.fs.open_input_file(staged) as handle:
                yield pq.ParquetFile(handle)
        finally:
            self._discard(staged)

    def dataset(self, relative: str) -> ds.Dataset:
        """A Hive-partitioned dataset over a table folder; staging and dotfiles are ignored."""
        import pyarrow.dataset as ds

        return ds.dataset(
            self.path(relative),
            filesystem=self.fs,
            format="parquet",
            partitioning="hive",
            ignore_prefixes=[".", "_"],
        )

    # -- writing ---------------------------------------------------------------------------

    def _staging_path(self, suffix: str) -> str:
        return self.path(f"{STAGING_DIR}/{uuid.uuid4().hex}{suffix}")

    def _publish(
        self, staged: str, relative: str, replaces: Callable[[str], bool] | None = None
    ) -> bool:
        """Move a staged file into place; False (staged file discarded) if `replaces` refused."""
        final = self.path(relative)
        folder = posixpath.dirname(final)
        self.fs.create_dir(folder, recursive=True)
        if replaces is None:
            self._move(staged, final)
            return True
        with self._folder_lock(folder):
            if self.exists(relative) and not replaces(relative):
                self._discard(staged)
                return False
            self._move(staged, final)
        return True

    def _move(self, staged: str, final: str) -> None:
        try:
            self.fs.move(staged, final)
        except FileNotFoundError:
            # Maintenance removes empty landing folders; one may go between create_dir and here.
            self.fs.create_dir(posixpath.dirname(final), recursive=True)
            self.fs.move(staged, final)

    @contextlib.contextmanager
    def _folder_lock(self, folder: str) -> Iterator[None]:
        """An exclusive lock on a local folder across threads and processes; none on S3."""
        if self.is_s3:
            yield
            return
        fd = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released by close, or by the kernel on a crash
            yield
        finally:
            os.close(fd)

    def _discard(self, staged: str) -> None:
        with contextlib.suppress(FileNotFoundError, OSError):
            self.fs.delete_file(staged)

    def write_bytes(
        self, relative: str, data: bytes, replaces: Callable[[str], bool] | None = None
    ) -> bool:
        """Write a small file whole; with `replaces`, as `parquet_writer`. True if published."""
        staged = self._staging_path(posixpath.splitext(relative)[1])
        self.fs.create_dir(posixpath.dirname(staged), recursive=True)
        try:
            with self.fs.open_output_stream(staged) as out:
                out.write(data)
            return self._publish(staged, relative, replaces)
        except BaseException:
            self._discard(staged)
            raise

    @contextlib.contextmanager
    def parquet_writer(
        self,
        relative: str,
        schema: pa.Schema,
        metadata: dict[str, str] | None = None,
        compression: str = "zstd",
        replaces: Callable[[str], bool] | None = None,
    ) -> Iterator[pq.ParquetWriter]:
        """Stream row groups into a file that appears at `relative` only if the block succeeds.

        With `replaces`, an existing file at `relative` is replaced only if
        `replaces(relative)` (asked right before the move) says so.
        """
        if metadata:
            schema = schema.with_metadata({**(schema.metadata or {}), **metadata})
        staged = self._staging_path(".parquet")
        self.fs.create_dir(posixpath.dirname(staged), recursive=True)
        try:
            options = {**PARQUET_OPTIONS, "compression": compression}
            with pq.ParquetWriter(staged, schema, filesystem=self.fs, **options) as w:
                yield w
            self._publish(staged, relative, replaces)
        except BaseException:
            self._discard(staged)
            raise

    def write_table(
        self,
        relative: str,
        table: pa.Table,
        metadata: dict[str, str] | None = None,
        compression: str = "zstd",
    ) -> None:
        with self.parquet_writer(relative, table.schema, metadata, compression) as writer:
            writer.write_table(table, row_group_size=256 * 1024)

    def delete(self, relative: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(self.path(relative))

    def delete_files(self, relatives: list[str], folders: list[str] = ()) -> None:
        """Delete files (absent ones are fine), then each of `folders` left empty.

        A folder is removed only while it holds nothing: locally by rmdir, on S3 by deleting its
        folder marker object alone, so a file written into it meanwhile is never touched. On S3
        the deletes go through boto3 in batches: pyarrow's delete_file recreates a marker for a
        parent folder it leaves empty, and markers would pile up in every listing.
        """
        if not self.is_s3:
            for relative in relatives:
                self.delete(relative)
            for folder in sorted(folders, key=len, reverse=True):
                with contextlib.suppress(OSError):  # not empty, or already gone
                    os.rmdir(self.path(folder))
            return
        bucket, _, prefix = self.root.partition("/")
        base = f"{prefix}/" if prefix else ""
        keys = [base + r for r in relatives] + [f"{base}{f}/" for f in folders]
        client = self._s3_client()
        for i in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[i : i + 1000]]
            answer = client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            refused = {e.get("Code", "?") for e in answer.get("Errors", [])}
            if refused:  # e.g. AccessDenied: say so rather than report files as removed
                raise OSError(f"AWS Error {', '.join(sorted(refused))} deleting in s3://{bucket}")

    def _s3_client(self):
        import boto3  # only maintenance needs it; the code location should not pay the import
        from botocore.config import Config

        s3 = self.s3
        return boto3.client(
            "s3",
            endpoint_url=s3.endpoint_url,
            region_name=s3.region or "us-east-1",
            aws_access_key_id=s3.access_key,
            aws_secret_access_key=s3.secret_key,
            aws_session_token=s3.session_token,
            config=Config(
                connect_timeout=s3.connect_timeout_s or 1,
                read_timeout=s3.request_timeout_s or 3,
                retries={"max_attempts": s3.max_attempts, "mode": "standard"},
            ),
        )
