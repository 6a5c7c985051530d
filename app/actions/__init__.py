"""Every write, named after the business verb. Each commits, then announces."""
