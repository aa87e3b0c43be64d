"""Tag ids: the UID of an ISO 14443-A tag in upper-case hex, 4 or 7 bytes.

Readers deliver UIDs in pieces: each anticollision cascade level returns four bytes plus a BCC
(XOR check byte), and when the UID is longer than four bytes the first level starts with the
cascade tag 0x88. The contract's tag id is the UID alone: no cascade tag, no BCC bytes.
"""

from __future__ import annotations

import re

from contract.errors import InvalidTagId

__all__ = [
    "CASCADE_TAG",
    "TAG_ID_PATTERN",
    "tag_id_from_cascade",
    "tag_id_from_uid",
    "validate_tag_id",
]

CASCADE_TAG = 0x88
TAG_ID_PATTERN = r"^(?!88)([0-9A-F]{8}|[0-9A-F]{14})$"
_TAG_RE = re.compile(TAG_ID_PATTERN)


def validate_tag_id(tag: object) -> str:
    """Returns `tag` when it is a valid tag id, else raises `InvalidTagId` naming it."""
    if not isinstance(tag, str) or not _TAG_RE.fullmatch(tag):
        raise InvalidTagId(
            f"tag id {tag!r} is not a 4- or 7-byte UID in upper-case hex without cascade tag"
        )
    return tag


def tag_id_from_uid(uid: bytes | bytearray | list[int]) -> str:
    """Formats a complete UID (4 or 7 bytes, no cascade tag, no BCC) as a tag id."""
    raw = bytes(uid)
    if len(raw) not in (4, 7):
        raise InvalidTagId(f"UID {raw.hex().upper()} has {len(raw)} bytes; expected 4 or 7")
    return validate_tag_id(raw.hex().upper())


def tag_id_from_cascade(levels: list[bytes]) -> str:
    """Builds the tag id from anticollision answers, each 4 UID-or-cascade bytes plus the BCC.

    Checks each level's BCC and strips the cascade tag from all but the last level.
    """
    uid = bytearray()
    for depth, level in enumerate(levels):
        if len(level) != 5:
            raise InvalidTagId(f"cascade level {depth + 1} has {len(level)} bytes; expected 5")
        bcc = level[0] ^ level[1] ^ level[2] ^ level[3]
        if bcc != level[4]:
            raise InvalidTagId(f"cascade level {depth + 1} fails its BCC: {level.hex().upper()}")
        last = depth == len(levels) - 1
        if not last:
            if level[0] != CASCADE_TAG:
                raise InvalidTagId(f"cascade level {depth + 1} lacks the cascade tag 0x88")
            uid += level[1:4]
        else:
            uid += level[0:4]
    return tag_id_from_uid(uid)
