"""The web console: HTML pages for technicians, the energy manager and the administrator."""

from api.console.routes import router

__all__ = ["router"]
