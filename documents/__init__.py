"""Documents: pure renderers (data in, PDF bytes out) shared by activities and the API."""
