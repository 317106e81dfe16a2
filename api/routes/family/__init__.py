"""JSON routes for families, one module per resource."""
