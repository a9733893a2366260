"""Stable codes for provisioning errors (forms, commands and, later, the API share them)."""

INVALID_SLUG = "invalid_slug"
RESERVED_SLUG = "reserved_slug"
SLUG_TAKEN = "slug_taken"
NAME_REQUIRED = "name_required"
INVALID_TIMEZONE = "invalid_timezone"
INVALID_EMAIL = "invalid_email"
WEAK_PASSWORD = "weak_password"  # noqa: S105 - an error code, not a password
DOMAIN_TAKEN = "domain_taken"
UNKNOWN_KIND = "unknown_kind"
INVALID_SETTINGS = "invalid_settings"
INVALID_NAME = "invalid_name"
CONNECTION_EXISTS = "connection_exists"
