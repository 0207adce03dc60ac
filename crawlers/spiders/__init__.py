"""Spiders of the project: one generic spider (``site``) driven by a site configuration."""
