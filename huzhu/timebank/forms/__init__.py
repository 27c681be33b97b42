"""Forms of the time bank pages, one module per area (ledger, merchants, members)."""
