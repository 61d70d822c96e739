"""User administration (admin role)."""
