"""Users, roles, organisation scope, sessions and tokens, and the audit log."""
