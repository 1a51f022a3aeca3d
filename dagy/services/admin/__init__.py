"""Super admin: customer orgs across the platform, their suspension, and impersonation."""
