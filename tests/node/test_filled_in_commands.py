"""Issue 12: a command an error or a warning suggests comes with the ids it already knows filled in
(ready to copy), not ``ID``, ``JOB_ID`` or ``FILE``. Real nodes where a node's state is involved;
the placeholder stays only for what the message cannot know (the referral that did fill a job, a
new home)."""

from __future__ import annotations

import pytest

from node.cli.main import main
from node.cli.partners import _invite_warning
from node.core.errors import UserError
from tests.node.test_referral_stages import referred


async def test_errors_about_a_referral_a_job_or_a_candidate_name_them(net):
    corp, _, rid = await referred(net)
    job_id = corp.talent.store.referral(rid).job_id
    with pytest.raises(UserError) as not_hired:
        corp.talent.close_job(job_id, filled_by=rid)  # still received: the hire is to be recorded first
    assert f"`orgnode referral update {rid.hex()} --status hired`" in str(not_hired.value)
    candidate, _ = corp.talent.add_candidate(name="Bo Chen", email="bo@example.org", skills=["driving"])
    with pytest.raises(UserError) as own:
        corp.talent.refer(candidate.candidate_id, job_id)
    assert f"run `orgnode match {job_id.hex()}`" in str(own.value)
    corp.talent.erase_candidate(candidate.candidate_id)
    with pytest.raises(UserError) as erased:
        corp.talent.update_candidate(candidate.candidate_id, {"email": "b@example.org"})
    assert f"`orgnode candidate report {candidate.candidate_id.hex()}`" in str(erased.value)


def test_warnings_and_usage_errors_fill_in_what_they_know(tmp_path, capsys):
    assert "`orgnode invite revoke " + "ab" * 16 + "`" in (_invite_warning(None, None, "ab" * 16) or "")
    assert "`orgnode invite revoke " + "ab" * 16 + "`" in (_invite_warning("Open Hands", None, "ab" * 16) or "")
    assert _invite_warning("Open Hands", "nonprofit", "ab" * 16) is None  # control: nothing to warn about
    assert main(["restore", str(tmp_path / "corp.backup")]) == 1
    assert f"`orgnode restore {tmp_path / 'corp.backup'} --home NEW`" in capsys.readouterr().err
