"""Call-offs to suppliers: the material requirement by time from the plan, JIT and JIS call-offs.

Public surface: `needs_of` / `buckets` / `sequences` (the requirement by time), `CallOffs` (issues
each supplier's call-off when it changed) and the document helpers. See docs/calloffs.md.
"""

from cloud.calloff.document import changes, content, digest, to_csv
from cloud.calloff.issuer import CallOffs, calloff_document
from cloud.calloff.requirement import Bucket, Need, buckets, needs_of, sequences

__all__ = [
    "Bucket",
    "CallOffs",
    "Need",
    "buckets",
    "calloff_document",
    "changes",
    "content",
    "digest",
    "needs_of",
    "sequences",
    "to_csv",
]
