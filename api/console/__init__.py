"""The web console: HTML pages for technicians, the energy manager and the administrator."""

from api.console.routes import install_error_pages, router

__all__ = ["install_error_pages", "router"]
