"""Flow revisions kept in the database, so a case finishes on the revision it started on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import FlowRevision

__all__ = ["FlowRevisionConflict", "flow_source", "register_flow_revision"]


class FlowRevisionConflict(RuntimeError):
    """A flow file changed but kept its revision number: running cases could not tell the two apart."""


def register_flow_revision(
    session: Session,
    *,
    flow_id: str,
    revision: int,
    spec_version: int,
    checksum: str,
    source: str,
    now: datetime,
) -> bool:
    """Store a revision the first time it is seen. Returns True when it was new."""
    existing = session.scalars(
        select(FlowRevision).where(FlowRevision.flow_id == flow_id, FlowRevision.revision == revision)
    ).one_or_none()
    if existing is not None:
        if existing.checksum != checksum:
            raise FlowRevisionConflict(
                f"flow '{flow_id}' revision {revision} differs from the revision {revision} already in use; "
                f"raise its revision number"
            )
        return False
    session.add(
        FlowRevision(
            flow_id=flow_id,
            revision=revision,
            spec_version=spec_version,
            checksum=checksum,
            source=source,
            registered_at=now,
        )
    )
    return True


def flow_source(session: Session, flow_id: str, revision: int) -> str | None:
    query = select(FlowRevision.source).where(FlowRevision.flow_id == flow_id, FlowRevision.revision == revision)
    return session.scalars(query).one_or_none()
