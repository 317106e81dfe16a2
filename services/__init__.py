"""Services: each owns its tables and is the only code that reads and writes them (used by activities and the API)."""
