"""Services: each owns the tables of one area (used by activities and the API alike)."""
