"""R2's multipart uploads on S3's: parts of 5 MiB to 5 GiB (the last may be smaller), numbered 1..10000."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ttai.bindings.common import error_code, reports_unavailable
from ttai.bindings.r2.errors import DEPENDENCY, InvalidPart, NoSuchUpload, ValueTooLarge
from ttai.bindings.r2.objects import R2Object, R2UploadedPart, object_from_response
from ttai.bindings.r2.options import quote_etag, unquote_etag, write_refused
from ttai.bindings.r2.values import Value, encode_value

if TYPE_CHECKING:
    from ttai.bindings.r2.bucket import R2Bucket

PART_MIN_BYTES = 5 * 1024**2  # every part but the last, on S3 and R2
PART_MAX_BYTES = 5 * 1024**3
PART_NUMBER_MAX = 10_000


class R2MultipartUpload:
    """R2's ``R2MultipartUpload``: ``upload_part``, ``complete``, ``abort``."""

    def __init__(self, bucket: R2Bucket, key: str, upload_id: str, extra: dict[str, Any]) -> None:
        self._bucket = bucket
        self.key = key
        self.upload_id = upload_id
        self._extra = extra
        self._sizes: dict[int, int] = {}
        self.finished = False

    @reports_unavailable(DEPENDENCY)
    def upload_part(self, part_number: int, value: Value) -> R2UploadedPart:
        if isinstance(part_number, bool) or not isinstance(part_number, int) or not 1 <= part_number <= PART_NUMBER_MAX:
            raise InvalidPart(f"part numbers run from 1 to {PART_NUMBER_MAX}, got {part_number!r}")
        body = encode_value(value)
        if len(body) > PART_MAX_BYTES:
            raise ValueTooLarge(f"a part of {len(body)} bytes is over the {PART_MAX_BYTES}-byte limit")
        try:
            response = self._bucket.s3.upload_part(
                Bucket=self._bucket.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=part_number, Body=body
            )
        except ClientError as exc:
            if error_code(exc) == "NoSuchUpload":
                raise NoSuchUpload(f"upload {self.upload_id} of {self.key!r} is no longer open") from exc
            raise
        self._sizes[part_number] = len(body)
        return R2UploadedPart(part_number=part_number, etag=unquote_etag(response["ETag"]))

    @reports_unavailable(DEPENDENCY)
    def abort(self) -> None:
        """Drop the upload and its parts (aborting one that is gone is not an error)."""
        self._bucket._abort(self.key, self.upload_id)
        self.finished = True

    @reports_unavailable(DEPENDENCY)
    def complete(
        self, uploaded_parts: Sequence[R2UploadedPart], *, guard: Mapping[str, str] | None = None
    ) -> R2Object | None:
        """Assemble the parts (in part-number order) into the object; None if ``guard``'s condition failed."""
        if not uploaded_parts:
            raise InvalidPart("complete needs at least one part")
        ordered = sorted(uploaded_parts, key=lambda p: p.part_number)
        numbers = [p.part_number for p in ordered]
        if len(set(numbers)) != len(numbers):
            raise InvalidPart("a part number appears twice")
        small = [n for n in numbers[:-1] if self._sizes.get(n, PART_MIN_BYTES) < PART_MIN_BYTES]
        if small:
            raise InvalidPart(f"parts {small} are under {PART_MIN_BYTES} bytes and are not the last part")
        conditions = dict(guard or {})
        try:
            response = self._bucket.s3.complete_multipart_upload(
                Bucket=self._bucket.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": [{"PartNumber": p.part_number, "ETag": quote_etag(p.etag)} for p in ordered]},
                **conditions,
            )
        except ClientError as exc:
            if write_refused(exc, conditions):
                self.abort()
                return None
            if error_code(exc) == "NoSuchUpload":
                raise NoSuchUpload(f"upload {self.upload_id} of {self.key!r} is no longer open") from exc
            if error_code(exc) in {"InvalidPart", "InvalidPartOrder", "EntityTooSmall"}:
                raise InvalidPart(f"S3 refused the parts of {self.key!r}: {error_code(exc)}") from exc
            raise
        self.finished = True
        # CompleteMultipartUpload reports neither size nor time: read back the version it made (one HeadObject).
        version = response.get("VersionId")
        extra = {"VersionId": version} if version and version != "null" else {}
        head = self._bucket.s3.head_object(Bucket=self._bucket.bucket, Key=self.key, **extra)
        return object_from_response(self.key, head)
