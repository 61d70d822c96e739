"""Home page, scan box, language choice and the user's own profile."""
