"""Ticket codes: the only ticket identifier a customer ever sees (``HD-4F7K2Q``).

Random, not sequential: a code says nothing about how many tickets exist and the neighbour of
your code is not somebody else's ticket. 32^6 ≈ 10^9 codes per prefix.
"""

from __future__ import annotations

from secrets import token_bytes

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
    # One draw of random bytes, each read modulo the alphabet's 32 letters (256 is a multiple
    # of 32: every letter equally likely, as secrets.choice draws them; six of those calls
    # were twelve getrandom system calls on average, issue 17).
    return f"{prefix}-" + "".join([CODE_ALPHABET[byte & 31] for byte in token_bytes(CODE_LENGTH)])


assert len(CODE_ALPHABET) == 32, "new_ticket_code reads a random byte's low five bits"


def normalize_code(text: str) -> str:
    """What a person typed (``hd-4f7k2q``, `` 4F7K2Q``) as a stored code (``HD-4F7K2Q``).

    Control characters (a NUL PostgreSQL refuses) read as spaces and are dropped; no code is
    longer than 64 characters, so longer text is cut and matches nothing."""
    code = "".join(clean_search(text, 64).split()).upper()
    prefix = current_helpdesk.config["HELPDESK_TICKET_CODE_PREFIX"]
    if len(code) == CODE_LENGTH and not code.startswith(f"{prefix}-"):
        code = f"{prefix}-{code}"
    return code
