"""Scheduled and background jobs of the time bank (django-tasks), one module per area; each
takes ids or dates and calls actions."""
