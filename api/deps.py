"""What routes depend on, as annotated parameters: `def retire_lamp(conn: Conn, who: Admin) -> ...`.

The implementations are elsewhere: the connection in `api.database`, who is asking in
`api.principals`, the role checks in `api.roles`, the settings in `api.settings`.
Roles are checked on the server for every endpoint; the console only hides what a
role cannot do.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from api.database import Database, DictConnection, connection, database
from api.principals import Principal, find_principal
from api.roles import require_roles
from api.settings import settings_dependency
from core.settings import Settings
from core.vocabulary import Role

FoundPrincipal = Annotated[Principal | None, Depends(find_principal)]

# scope="function": the connection is committed and returned to the pool before the
# response goes out, so a client that acts on a response always sees its writes.
Conn = Annotated[DictConnection, Depends(connection, scope="function")]
Db = Annotated[Database, Depends(database)]

Reader = Annotated[Principal, Depends(require_roles(*Role))]
EnergyManager = Annotated[Principal, Depends(require_roles(Role.ENERGY_MANAGER, Role.ADMIN))]
# Who works on the lamps themselves: predictions, events seen on site, work orders, commissioning.
FieldStaff = Annotated[Principal, Depends(require_roles(Role.TECHNICIAN, Role.ADMIN))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]

SettingsDep = Annotated[Settings, Depends(settings_dependency)]
