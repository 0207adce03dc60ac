"""Intake: what a citizen submits: validation, screening, tracking numbers, attachments, form and tracking pages."""
