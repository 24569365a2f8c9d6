"""Opening a run's mailer and audit store from their URLs, checked before any work is done.

:func:`~execintel.service.run_reports` never opens either itself: a shell opens them here (the CLI once per
command, the web app once for all its runs) and passes them in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from execintel.errors import ConfigError, ExecintelError

if TYPE_CHECKING:
    from execintel.config import Settings
    from execintel.delivery.mailers.base import Mailer
    from execintel.store import Store

__all__ = ["open_dry_run_store", "open_endpoints"]


def open_endpoints(
    settings: Settings, mailer_url: str | None, store_url: str | None, new_store: bool = False
) -> tuple[Mailer, Store]:
    """The mailer and the store of a delivering run (``None`` URLs: the settings'), checked before any work.

    A bad URL, an outbox folder that cannot be written, a store that lost its history (unless ``new_store``) or a
    bad ``EXECINTEL_DELIVERY_DEADLINE`` raise :class:`ConfigError` (naming ``--mailer`` when ``mailer_url`` was
    given, else ``EXECINTEL_MAILER``) with nothing done.
    """
    from execintel.delivery.mailers import open_mailer  # noqa: PLC0415
    from execintel.delivery.runs import delivery_deadline  # noqa: PLC0415
    from execintel.store import open_store  # noqa: PLC0415

    delivery_deadline()  # refused now, not after the reports are built
    source = "--mailer" if mailer_url else "EXECINTEL_MAILER"
    mailer = open_mailer(mailer_url or settings.mailer, settings, source=source)
    store = open_store(store_url, settings, new_store=new_store)
    try:
        mailer.check()  # may create the outbox folder: only once the store is known to be usable
    except BaseException:
        store.close()
        raise
    return mailer, store


def open_dry_run_store(
    settings: Settings, store_url: str | None, new_store: bool = False
) -> tuple[Store | None, ExecintelError | OSError | None]:
    """The store a dry run is recorded in, or (None, why) when it cannot be opened or is damaged.

    A dry run sends nothing, so it goes on unrecorded rather than stop (its CEO report then cannot say what
    changed); a malformed URL is still a :class:`ConfigError`: the user asked for that store.
    """
    from execintel.store import StoreDamaged, StoreLost, open_store  # noqa: PLC0415

    try:
        return open_store(store_url, settings, new_store=new_store), None
    except (StoreLost, StoreDamaged) as exc:
        return None, exc
    except ConfigError:
        raise
    except (ExecintelError, OSError) as exc:
        return None, exc
