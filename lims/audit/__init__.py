"""Audit trail, electronic signatures and record versions (21 CFR Part 11)."""
