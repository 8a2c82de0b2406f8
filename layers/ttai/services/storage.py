"""Seed 000's StorageService on the R2 binding: knowledge documents, a user's exports, short-lived download links.

Export names are checked against one strict pattern before they become keys, so a name can never leave
``users/{user_id}/exports/``; the user_id is the verified caller's, put in the key by ``ttai.tenant_keys`` so that
one user's prefix never lists another's. A name that is not there, or is another user's, reads as not found. The
exports list's cursor wraps the R2 binding's (S3's continuation token) in the API's authenticated codec, bound to the
caller, so a token reaches S3 only if this API handed it to this caller.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from pydantic import Field

from ttai.bindings.r2 import Body, R2Bucket, R2HTTPMetadata, R2MultipartUpload, R2ObjectBody, UnknownListCursor
from ttai.cursors import CursorCodec, CursorKind, InvalidCursor, Page, TextField, required_codec
from ttai.errors import InvalidField, NotFound
from ttai.layout import storage_layout
from ttai.models.base import Output
from ttai.tenant_keys import user_object_prefix

DOWNLOAD_URL_SECONDS = 300  # a link is for downloading now, not for sharing
EXPORT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}(\.[A-Za-z0-9]{1,8}){0,2}$"
_EXPORT_NAME = re.compile(EXPORT_NAME_PATTERN)
_KNOWLEDGE_PATH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*/?$")
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "csv": "text/csv",
    "json": "application/json",
    "md": "text/markdown",
    "gz": "application/gzip",
}
# The R2 binding's list cursor, as it issued it: an export key is short, so its token is a few hundred characters.
EXPORTS = CursorKind("exports", (TextField(1500),))


class ExportFile(Output):
    name: str
    size: int
    uploaded: datetime
    content_type: str


class ListedExport(ExportFile):
    url: str = Field(description="a presigned GET of the export, valid until expires_at")
    expires_at: datetime


class ExportLink(Output):
    name: str
    url: str = Field(description="a presigned GET of the export, valid until expires_at")
    expires_at: datetime


def content_type(name: str) -> str:
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return CONTENT_TYPES.get(extension, "application/octet-stream")


class StorageService:
    def __init__(self, bucket: R2Bucket, user_id: str | None = None, *, cursors: CursorCodec | None = None) -> None:
        self.bucket = bucket
        self.user_id = user_id
        self.cursors = cursors  # needed by the exports list's pages
        self._prefixes = storage_layout().bucket_prefixes

    # ------------------------------------------------------------- knowledge

    def get_knowledge_doc(self, path: str) -> str | None:
        found = self.bucket.get(self._knowledge_key(path))
        return found.text() if isinstance(found, R2ObjectBody) else None

    def list_knowledge_docs(self, prefix: str | None = None) -> list[str]:
        """Every document key under ``knowledge/`` (or ``knowledge/<prefix>``), following cursors."""
        base = self._knowledge_key(prefix) if prefix else self._prefixes["knowledge"]
        keys: list[str] = []
        cursor = None
        while True:
            page = self.bucket.list(prefix=base, cursor=cursor)
            keys += [o.key for o in page.objects]
            if not page.truncated:
                return keys
            cursor = page.cursor

    def _knowledge_key(self, path: str) -> str:
        if not _KNOWLEDGE_PATH.fullmatch(path) or ".." in path.split("/"):
            raise InvalidField("path", f"{path!r} is not a knowledge document path")
        return f"{self._prefixes['knowledge']}{path}"

    # --------------------------------------------------------------- exports

    @property
    def exports_prefix(self) -> str:
        if not self.user_id:
            raise NotFound("exports belong to a user; this service has none")
        return user_object_prefix("exports", self.user_id)

    def export_key(self, name: str) -> str:
        """The key of the caller's export ``name``; NotFound for a name that could not be one of theirs."""
        if not isinstance(name, str) or not _EXPORT_NAME.fullmatch(name):  # "$" alone lets a final "\n" in
            raise NotFound("no such export")
        return f"{self.exports_prefix}{name}"

    def save_export(self, name: str, content: Body) -> ExportFile:
        """Store an export (bytes, text or a stream of chunks, streamed in parts when long)."""
        key = self.export_key(name)
        # Tagged, so the bucket's lifecycle rule for exports (Infrequent Access, then expiry) applies to it.
        tag_key, tag_value = storage_layout().export_tag
        written = self.bucket.put(
            key, content, http_metadata=R2HTTPMetadata(content_type=content_type(name)), tags={tag_key: tag_value}
        )
        if written is None:  # pragma: no cover - an unconditional put always writes
            raise NotFound("the export was not written")
        return ExportFile(name=name, size=written.size, uploaded=written.uploaded, content_type=content_type(name))

    def start_export_upload(self, name: str) -> R2MultipartUpload:
        """A multipart upload of export ``name`` (tagged and typed as ``save_export`` stores one), for a file
        written a part at a time."""
        tag_key, tag_value = storage_layout().export_tag
        return self.bucket.create_multipart_upload(
            self.export_key(name),
            http_metadata=R2HTTPMetadata(content_type=content_type(name)),
            tags={tag_key: tag_value},
        )

    def export_upload(self, name: str, upload_id: str) -> R2MultipartUpload:
        """The upload ``start_export_upload`` began, to add parts to, complete or abort."""
        return self.bucket.resume_multipart_upload(self.export_key(name), upload_id)

    def get_export(self, name: str) -> bytes | None:
        found = self.bucket.get(self.export_key(name))
        return found.bytes() if isinstance(found, R2ObjectBody) else None

    def list_exports(self, limit: int = 50, cursor: str | None = None) -> Page[ListedExport]:
        """A page of the caller's exports by name, each with a download link (signed here: no call per file)."""
        prefix = self.exports_prefix
        scope = (self.user_id,)
        after = required_codec(self.cursors).decode(EXPORTS, cursor, scope=scope)[0] if cursor else None
        try:
            page = self.bucket.list(prefix=prefix, limit=limit, cursor=after)
        except UnknownListCursor as exc:  # a token we signed that S3 no longer takes: the caller's cursor, refused
            raise InvalidCursor() from exc
        expires_at = datetime.fromtimestamp(int(time.time()) + DOWNLOAD_URL_SECONDS, UTC)
        items = [
            ListedExport(
                name=o.key.removeprefix(prefix),
                size=o.size,
                uploaded=o.uploaded,
                content_type=content_type(o.key),
                url=self.bucket.presigned_get_url(
                    o.key, DOWNLOAD_URL_SECONDS, download_name=o.key.removeprefix(prefix)
                ),
                expires_at=expires_at,
            )
            for o in page.objects
        ]
        if not (page.truncated and page.cursor):
            return Page(items=items)
        return Page(items=items, next_cursor=required_codec(self.cursors).encode(EXPORTS, [page.cursor], scope=scope))

    def export_url(self, name: str, expires_in: int = DOWNLOAD_URL_SECONDS) -> ExportLink:
        """A presigned GET of the caller's export (one HeadObject first: no link to something absent)."""
        key = self.export_key(name)
        if self.bucket.head(key) is None:
            raise NotFound("no such export")
        url = self.bucket.presigned_get_url(key, expires_in, download_name=name)
        expires_at = datetime.fromtimestamp(int(time.time()) + expires_in, UTC)
        return ExportLink(name=name, url=url, expires_at=expires_at)
