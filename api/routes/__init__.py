"""JSON routers per audience (family, billing_operator, operator, inspector, quality, partner, rif_agent...)."""
