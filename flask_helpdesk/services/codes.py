"""Ticket codes: the only ticket identifier a customer ever sees (``HD-4F7K2Q``).

Random, not sequential: a code says nothing about how many tickets exist and the neighbour of
your code is not somebody else's ticket. 32^6 ≈ 10^9 codes per prefix.
"""

from __future__ import annotations

import secrets

from ..inputs import clean_search
from ..models.ticket import CODE_ALPHABET, CODE_LENGTH
from ..state import current_helpdesk


def new_ticket_code() -> str:
    """An unguessable human code such as ``HD-4F7K2Q``, drawn at random.

    Not checked free here: a check cannot see what another creator is inserting at the same
    moment, so the ticket's unique index decides, and the one INSERT path
    (``tickets._insert_with_free_code``) draws again in the rare case it refuses (one draw in
    1,000 with a million tickets). That saves a query per ticket created (issue 17)."""
    prefix = current_helpdesk.config["HELPDESK_TICKET_CODE_PREFIX"]
    return f"{prefix}-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str:
    """What a person typed (``hd-4f7k2q``, `` 4F7K2Q``) as a stored code (``HD-4F7K2Q``).

    Control characters (a NUL PostgreSQL refuses) read as spaces and are dropped; no code is
    longer than 64 characters, so longer text is cut and matches nothing."""
    code = "".join(clean_search(text, 64).split()).upper()
    prefix = current_helpdesk.config["HELPDESK_TICKET_CODE_PREFIX"]
    if len(code) == CODE_LENGTH and not code.startswith(f"{prefix}-"):
        code = f"{prefix}-{code}"
    return code
