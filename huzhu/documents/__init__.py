"""Living documents (DOMAIN.md "Lockdown operations": SOPs and job descriptions, versioned,
residents suggest changes, "1.0, 2.0, 3.0")."""
