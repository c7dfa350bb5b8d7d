"""Typed admin requests: every admin API body is parsed here once, into a frozen dataclass.

The CLI, the demo and the coming dashboard all send these bodies (JSON objects). A handler is
``Model.from_json(body)`` -> the core -> a JSON answer, so the types, ranges and shared rules
(dates, consent, hops: node/core/fields.py) are checked in one place. ``from_json`` raises only
``UserError``, naming the request field (``valid_through``), never a CLI flag: the admin client adds
the flag. No aiohttp here, so the dashboard can build the same models and call the core with them.

One module per command group, as in node/cli: ``partners`` (trust, invites, LAN pairing, notes),
``talent`` (jobs, candidates, consent, matching, referrals), ``audit`` (audit bundles, impact).
"""

from __future__ import annotations

from typing import Any

from node.core.requests.audit import AuditExport, ImpactRequest
from node.core.requests.backup import BackupSnapshot, RestoreDone
from node.core.requests.partners import (
    ForkClear,
    InviteCreate,
    InviteRevoke,
    NotePost,
    PeerRef,
    SetUrl,
    TrustAccept,
    TrustRequest,
)
from node.core.requests.referrals import ReferralCorrect, ReferralShow
from node.core.requests.talent import (
    CandidateAdd,
    CandidateImport,
    CandidateQuery,
    CandidateUpdate,
    ConsentGive,
    JobClose,
    JobImport,
    JobList,
    JobPost,
    JobUpdate,
    MatchRequest,
    Page,
    Ref,
    ReferralAnswer,
    ReferralRequestCreate,
    ReferralUpdate,
    ReferRequest,
)

__all__ = [
    "AuditExport",
    "BackupSnapshot",
    "CandidateAdd",
    "CandidateImport",
    "CandidateQuery",
    "CandidateUpdate",
    "ConsentGive",
    "ForkClear",
    "ImpactRequest",
    "InviteCreate",
    "InviteRevoke",
    "JobClose",
    "JobImport",
    "JobList",
    "JobPost",
    "JobUpdate",
    "MatchRequest",
    "NotePost",
    "Page",
    "PeerRef",
    "Ref",
    "ReferRequest",
    "ReferralAnswer",
    "ReferralCorrect",
    "ReferralRequestCreate",
    "ReferralShow",
    "ReferralUpdate",
    "RestoreDone",
    "SetUrl",
    "TrustAccept",
    "TrustRequest",
]

# Every model, for the property test that feeds them arbitrary JSON (tests/node/test_requests.py).
MODELS: tuple[Any, ...] = (
    InviteCreate.from_json, InviteRevoke.from_json, TrustAccept.from_json, PeerRef.from_json, ForkClear.from_json, TrustRequest.from_json,
    NotePost.from_json, JobPost.from_json, JobUpdate.from_json, JobImport.from_json, JobList.from_json,
    JobClose.from_json, Ref.from_json, MatchRequest.from_json, CandidateAdd.from_json, CandidateImport.from_json, CandidateUpdate.from_json,
    ConsentGive.from_json, ReferralRequestCreate.from_json, ReferralAnswer.approve, ReferralAnswer.decline,
    ReferralUpdate.from_json, ReferralCorrect.from_json, ReferralShow.from_json, ReferRequest.from_json, AuditExport.from_json, ImpactRequest.from_json,
    BackupSnapshot.from_json, RestoreDone.from_json, Page.from_json,
)
