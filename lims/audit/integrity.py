"""``lims audit-verify``: the keyed chain, its head, the signatures bound into it and the checkpoints.

Problems are collected and the one at the lowest row is reported first (the "first bad row"); a problem that
has no row of its own (a signature no audit row records, a checkpoint line that is not signed with the key)
comes after every row problem.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import select

from .chain import GENESIS_HASH, verify
from .checkpoints import Checkpoint
from .models import AuditChainHead, AuditEntry, Signature


@dataclass
class IntegrityResult:
    ok: bool
    checked: int
    broken_at: int | None = None  # the first bad audit row
    problem: str | None = None
    more: int = 0  # further problems found
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    problems: list = field(default_factory=list)


def signature_record(sig) -> str:
    """The canonical JSON of a signature as its "sign" audit row records it (and verify re-reads it)."""
    from .chain import _canon

    return json.dumps(
        {
            "id": sig.id,
            "user_id": sig.user_id,
            "user_name": sig.user_name,
            "meaning": sig.meaning,
            "record_type": sig.record_type,
            "record_id": sig.record_id,
            "record_version": sig.record_version,
            "content_hash": sig.content_hash,
            "signed_at": _canon(sig.signed_at),
            "comment": sig.comment,
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )


def effective_checkpoints(checkpoints: list[Checkpoint]) -> tuple[list[Checkpoint], list[Checkpoint]]:
    """(checkpoints to compare, lines not signed with the key). A restore line sets aside the earlier
    checkpoints beyond the head it restored (that trail was replaced on purpose, by a signed restore)."""
    valid = [c for c in checkpoints if c.valid]
    bad = [c for c in checkpoints if not c.valid]
    out: list[Checkpoint] = []
    for cp in valid:
        if cp.kind == "restore":
            out = [c for c in out if c.seq <= cp.seq]
        out.append(cp)
    return out, bad


def verify_database(conn, key: bytes, checkpoints: list[Checkpoint] | None = None) -> IntegrityResult:
    """``conn``: a SQLAlchemy Connection or Session on the database to check."""
    checkpoints = checkpoints or []
    compare, unsigned = effective_checkpoints(checkpoints)
    want = {c.seq for c in compare}
    hashes: dict[int, str] = {}
    recorded: dict[int, tuple[int, str]] = {}  # signature id -> (audit row, recorded json)
    problems: list[tuple[float, int | None, str]] = []

    head = conn.execute(select(AuditChainHead.last_seq, AuditChainHead.last_hash).where(AuditChainHead.id == 1)).first()

    def rows():
        for r in conn.execute(select(*AuditEntry.__table__.c).order_by(AuditEntry.id)):
            d = r._asdict()
            if d["id"] in want:
                hashes[d["id"]] = d["hash"]
            if d.get("signature"):
                try:
                    sid = int(json.loads(d["signature"])["id"])
                except (ValueError, KeyError, TypeError):
                    problems.append((d["id"], d["id"], "its signature record cannot be read"))
                else:
                    if sid in recorded:
                        problems.append(
                            (
                                d["id"],
                                d["id"],
                                f"records signature {sid} a second time (first at row {recorded[sid][0]})",
                            )
                        )
                    else:
                        recorded[sid] = (d["id"], d["signature"])
            yield d

    if head is None:
        problems.append((0, None, "the chain head row is missing (deleted)"))
        chain = verify(rows(), key)
    else:
        chain = verify(rows(), key, head[0], head[1])
    if not chain.ok:
        problems.append((chain.broken_at or 0, chain.broken_at, chain.problem))

    # Checkpoints: each compared row must still exist with the hash it had.
    found_end = max(hashes) if hashes else 0
    end = head[0] if head is not None else found_end
    for cp in compare:
        if cp.seq == 0:
            continue
        have = hashes.get(cp.seq)
        if have is None:
            problems.append(
                (
                    cp.seq,
                    cp.seq,
                    f"missing, but the {cp.kind} of {cp.time} ({cp.reason}) recorded the trail "
                    f"up to row {cp.seq}; the trail now ends at row {end} (rows cut from the end "
                    "or the head rolled back)",
                )
            )
        elif have != cp.hash:
            problems.append(
                (
                    cp.seq,
                    cp.seq,
                    f"differs from the {cp.kind} of {cp.time} ({cp.reason}): the trail up to here was rewritten",
                )
            )
    for cp in unsigned:
        problems.append(
            (float("inf"), None, f"checkpoint line {cp.line} is not signed with the audit key (forged or damaged)")
        )

    # Signatures: every row of the signature table is recorded, as it is, by one chained "sign" row.
    seen = set()
    for sig in conn.execute(select(*Signature.__table__.c).order_by(Signature.id)):
        seen.add(sig.id)
        rec = recorded.get(sig.id)
        if rec is None:
            problems.append(
                (
                    float("inf"),
                    None,
                    f"signature {sig.id} ({sig.meaning} of {sig.record_type} {sig.record_id}) "
                    "is recorded by no audit row (inserted behind the application)",
                )
            )
        elif rec[1] != signature_record(sig):
            problems.append(
                (
                    rec[0],
                    rec[0],
                    f"signature {sig.id} in the signature table differs from what this row "
                    "recorded (signature altered)",
                )
            )
    for sid, (row, _json) in recorded.items():
        if sid not in seen:
            problems.append((row, row, f"records signature {sid}, which is missing from the signature table (deleted)"))

    problems.sort(key=lambda p: p[0])
    if not problems:
        return IntegrityResult(True, chain.checked, head_seq=head[0], head_hash=head[1])
    _, at, text = problems[0]
    return IntegrityResult(
        False,
        chain.checked,
        at,
        text,
        len(problems) - 1,
        head_seq=head[0] if head else 0,
        head_hash=head[1] if head else GENESIS_HASH,
        problems=[(a, t) for _, a, t in problems],
    )
