"""Server-rendered HTML pages (French), built on the same service functions as the JSON API."""
