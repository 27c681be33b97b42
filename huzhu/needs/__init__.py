"""Needs: the demand and supply libraries and the service loop (DOMAIN.md "The core loop")."""
