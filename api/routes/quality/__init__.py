"""JSON API for the QualiParis quality team: référentiel, campaigns, review, results."""
