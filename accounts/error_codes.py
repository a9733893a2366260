from core.errors import DomainError

NOT_ALLOWED = "not_allowed"
INVALID_ROLE = "invalid_role"
ALREADY_MEMBER = "already_member"
INVITATION_UNUSABLE = "invitation_unusable"
INVALID_NAME = "invalid_name"
INVALID_SCOPE = "invalid_scope"
LAST_OWNER = "last_owner"
OWNERS_ONLY = "owners_only"
CANNOT_REMOVE_SELF = "cannot_remove_self"


class TeamError(DomainError):
    """A refused change to the team (a role, a removal); pages show it by its field."""
