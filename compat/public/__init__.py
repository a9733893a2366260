"""The dialects' public-schema lookups: which tenant an Account SID or an API key SID
belongs to, and the credentials that open it."""
