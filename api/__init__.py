"""API: the FastAPI application, authentication, Open311, pages and the command line."""
