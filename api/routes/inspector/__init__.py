"""JSON API for QualiParis inspectors: their own tasks only."""
