"""Background jobs (arq): lease expiry, queue rebuild, outcomes, badges, evidence checks."""
