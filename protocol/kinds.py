"""Imports every statement kind so the body registry (``protocol.bodies.BODY_TYPES``) is complete."""

from protocol import bodies, consent, jobs, provenance, referrals, relay, reshare

__all__ = ["bodies", "consent", "jobs", "provenance", "referrals", "relay", "reshare"]
