"""Accounts, roles, sessions and the permission declaration on every route."""
