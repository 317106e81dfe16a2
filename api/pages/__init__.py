"""Server-rendered HTML pages (French), built on the same service functions as the JSON API."""

# The pages reuse the routes' services and the routes package registers the pages: load the routes first
# so that importing a page module on its own (tests, tools) does not meet a half-initialised module.
import api.routes  # noqa: F401
