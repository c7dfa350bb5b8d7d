"""The rule that holds a pending referral request, for each way a consent can fail to cover it."""

from __future__ import annotations

from node.core.consent_rules import holding_rule
from storage.talent_rows import ConsentRow

ORG = bytes(range(32))
NOW = 1_800_000_000_000  # ms, as the node clock gives it


def consent(purposes=("match", "refer"), scope=("all",), expires_at=None, state="given") -> ConsentRow:
    return ConsentRow(consent_id=b"c" * 16, candidate_id=b"p" * 16, statement_id=b"s" * 32, purposes=tuple(purposes),
                      scope=tuple(scope), fields=("name",), evidence="form", collected_at=NOW - 100,
                      expires_at=expires_at, state=state)


def rule(*consents: ConsentRow) -> str:
    return holding_rule(list(consents), "refer", ORG, "Northwind", "company", NOW).code


def test_each_failing_rule_is_named():
    assert rule() == "no-consent"
    assert rule(consent(state="withdrawn")) == "consent-withdrawn"
    assert rule(consent(expires_at=NOW - 1)) == "consent-expired"
    assert rule(consent(purposes=("match",))) == "purpose-not-given"
    assert rule(consent(scope=("sector:nonprofit",))) == "outside-scope"


def test_a_covering_consent_is_reported_as_covering():  # positive control: the rules are not always "held"
    assert rule(consent()) == "covered-now"
    assert rule(consent(scope=("sector:company",))) == "covered-now"
    assert rule(consent(scope=(f"node:{ORG.hex()}",), expires_at=NOW + 1)) == "covered-now"


def test_the_words_name_the_organization_and_the_expiry_day():
    expired = holding_rule([consent(expires_at=NOW - 1)], "refer", ORG, "Northwind", "company", NOW)
    assert expired.words == "the candidate's consent ran out on 2027-01-15"
    scoped = holding_rule([consent(scope=("sector:nonprofit",))], "refer", ORG, "Northwind", "company", NOW)
    assert "not to Northwind" in scoped.words
