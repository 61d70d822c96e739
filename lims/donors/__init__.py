"""Donor registry, screening protocols and the eligibility engine."""
