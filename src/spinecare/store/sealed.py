"""Encrypted, authenticated files (AES-256-GCM from ``cryptography``), for backups.

A backup holds every patient's record and every token's hash, so a copy on a shared disk or a
lost drive must be useless without the key, and a copy changed by anyone must be refused rather
than restored. The file is written and read as a stream, so a large backup never sits whole in
memory:

    header  = b"spinecare-sealed/1\\n" | salt (32 random bytes) | key check (16 bytes)
    chunk i = length (4 bytes, big-endian) | AES-GCM(file key, nonce(i, last), plaintext, header)

Each file has its own key, derived from the key file's key and the file's random salt (HKDF-
SHA256), so nonces (an 11-byte chunk counter and a last-chunk flag) never repeat under one key.
The counter in the nonce makes reordered chunks fail, the flag makes a truncated file fail
(the online-AE "STREAM" construction: Hoang, Reyhanitabar, Rogaway and Vizár, CRYPTO 2015), and
the header is authenticated with every chunk. The key check (an HMAC of the salt) tells a wrong
key apart from a damaged file.

A key file is 32 random bytes, base64url-encoded on one line, mode 0600
(:func:`generate_key_file`). Key files readable by other users are refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import os
import secrets
import stat
import struct
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from spinecare.errors import SpinecareError
from spinecare.store.files import PRIVATE_FILE

MAGIC = b"spinecare-sealed/1\n"
SALT_BYTES = 32
CHECK_BYTES = 16
HEADER_BYTES = len(MAGIC) + SALT_BYTES + CHECK_BYTES
KEY_BYTES = 32
CHUNK_BYTES = 64 * 1024
TAG_BYTES = 16
_LENGTH = struct.Struct(">I")


class SealedError(SpinecareError):
    """A key file or a sealed file that cannot be used; the message says which and why."""


def generate_key_file(path: Path) -> None:
    """Write a new random key to ``path`` (0600); an existing file is never overwritten."""
    key = base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        raise SealedError(f"{path} already exists; a key file is never overwritten (the "
                          "backups made with it could not be read any more)") from None
    except OSError as exc:
        raise SealedError(f"{path}: cannot create: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key + "\n")


def read_key_file(path: Path) -> bytes:
    """The key in ``path``, refusing a file other users can read or one that is not a key."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise SealedError(f"{path}: no such key file (make one with "
                          "`spinecare backup --generate-key FILE`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SealedError(f"{path}: cannot read the key file: "
                          f"{getattr(exc, 'strerror', None) or exc}") from None
    if mode & 0o077:
        raise SealedError(f"{path}: the key file is readable by other users (mode "
                          f"{mode:o}); make it private with `chmod 600 {path}`")
    try:
        key = base64.urlsafe_b64decode(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        key = b""
    if len(key) != KEY_BYTES:
        raise SealedError(f"{path}: not a spinecare key file (it should hold {KEY_BYTES} "
                          "random bytes in base64url on one line)")
    return key


def is_sealed(path: Path) -> bool:
    """Whether ``path`` starts like a sealed file."""
    with open(path, "rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


def _file_key(key: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt,
                info=b"spinecare-sealed/1 file key").derive(key)


def _key_check(key: bytes, salt: bytes) -> bytes:
    return hmac.new(key, b"spinecare-sealed/1 key check" + salt,
                    hashlib.sha256).digest()[:CHECK_BYTES]


def _nonce(index: int, last: bool) -> bytes:
    if index >= 1 << 88:
        raise SealedError("file too large to seal")
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class SealingWriter(io.RawIOBase):
    """A binary stream writing a sealed file onto ``out``; :meth:`close` seals the end."""

    def __init__(self, out: IO[bytes], key: bytes):
        super().__init__()
        self._out = out
        salt = secrets.token_bytes(SALT_BYTES)
        self._header = MAGIC + salt + _key_check(key, salt)
        self._aead = AESGCM(_file_key(key, salt))
        self._buffer = bytearray()
        self._index = 0
        out.write(self._header)

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._buffer += data
        while len(self._buffer) > CHUNK_BYTES:
            # Strictly more than a chunk: the last chunk is only known at close.
            self._emit(bytes(self._buffer[:CHUNK_BYTES]), last=False)
            del self._buffer[:CHUNK_BYTES]
        return len(data)

    def _emit(self, plain: bytes, *, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._index, last), plain, self._header)
        self._out.write(_LENGTH.pack(len(sealed)) + sealed)
        self._index += 1

    def close(self) -> None:
        if not self.closed:
            self._emit(bytes(self._buffer), last=True)
            self._buffer.clear()
            self._out.flush()
        super().close()


class OpeningReader(io.RawIOBase):
    """A binary stream of a sealed file's plain content; every chunk is authenticated before
    any of it is returned, and a file that ends before its last chunk is refused."""

    def __init__(self, source: IO[bytes], key: bytes, name: str):
        super().__init__()
        self._source = source
        self._name = name
        header = source.read(HEADER_BYTES)
        if len(header) != HEADER_BYTES or not header.startswith(MAGIC):
            raise SealedError(f"{name}: not an encrypted spinecare file")
        salt = header[len(MAGIC):len(MAGIC) + SALT_BYTES]
        if not hmac.compare_digest(header[-CHECK_BYTES:], _key_check(key, salt)):
            raise SealedError(f"{name}: this key is not the one the file was encrypted with")
        self._header = header
        self._aead = AESGCM(_file_key(key, salt))
        self._index = 0
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def _damaged(self, why: str) -> SealedError:
        return SealedError(f"{self._name}: the file was changed or damaged after it was "
                           f"written ({why}); it cannot be trusted")

    def _next_chunk(self) -> bytes:
        head = self._source.read(_LENGTH.size)
        if not head:
            raise self._damaged("it ends before its last part")
        if len(head) != _LENGTH.size:
            raise self._damaged("a part is cut short")
        (length,) = _LENGTH.unpack(head)
        if not TAG_BYTES <= length <= CHUNK_BYTES + TAG_BYTES:
            raise self._damaged("a part has an impossible length")
        sealed = self._source.read(length)
        if len(sealed) != length:
            raise self._damaged("a part is cut short")
        for last in (False, True):
            try:
                plain = self._aead.decrypt(_nonce(self._index, last), sealed, self._header)
            except InvalidTag:
                continue
            self._index += 1
            if last:
                if self._source.read(1):
                    raise self._damaged("something follows its last part")
                self._done = True
            return plain
        raise self._damaged(f"part {self._index + 1} does not authenticate")

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending and not self._done:
            self._pending = self._next_chunk()
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def verify(path: Path, key: bytes) -> None:
    """Read all of ``path`` through its authentication; :class:`SealedError` if any of it is
    wrong. Nothing is kept."""
    with open(path, "rb") as fh:
        reader = OpeningReader(fh, key, str(path))
        while reader.read(1 << 20):
            pass
