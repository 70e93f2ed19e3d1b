"""What has changed in the DPS supplier list since its seeded date (for /suppliers' header)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import Supplier

IMPORTED = "import:"  # how the importers' `source` begins (store/importers.py)


async def imported_count(session: AsyncSession) -> int:
    """Suppliers an import added or last wrote, so no longer as the seeded list stated them."""
    found = await session.scalar(
        select(func.count()).select_from(Supplier).where(Supplier.source.startswith(IMPORTED))
    )
    return int(found or 0)
