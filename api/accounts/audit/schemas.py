"""Response body of the audit log endpoint."""

from __future__ import annotations

from pydantic import ConfigDict

from accounts import AuditEntry
from api.paging import Page

# The entries are the accounts package's own records (`accounts.AuditEntry`), as stored.


class AuditPage(Page[AuditEntry]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "total": 1,
                    "limit": 100,
                    "offset": 0,
                    "items": [
                        {
                            "audit_id": 41,
                            "at": "2026-11-20T08:10:00Z",
                            "actor": "admin",
                            "action": "user.update",
                            "target": "user:claire",
                            "before": {"role": "technician"},
                            "after": {"role": "energy_manager"},
                            "client_ip": "192.0.2.10",
                        }
                    ],
                }
            ]
        }
    )
