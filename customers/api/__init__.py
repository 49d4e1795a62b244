"""REST resources of the customers app: accounts, contacts and contracts (mounted at /api/v1/)."""
