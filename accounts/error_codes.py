NOT_ALLOWED = "not_allowed"
INVALID_ROLE = "invalid_role"
ALREADY_MEMBER = "already_member"
INVITATION_UNUSABLE = "invitation_unusable"
