"""Separate what a person just wrote from the quoted history and signature below it.

A ticket shows every message of a conversation, so repeating each mail's full quoted history
would show the same text again and again. :func:`strip_quotes` keeps only the new part of a
reply. The full text is always kept next to it, so a wrong guess hides text but never loses it;
the rules below therefore prefer leaving history in over cutting a person's words.

Recognised: attribution lines ("On ... wrote:" and its French, German, Spanish, Italian,
Dutch, Portuguese, Vietnamese and Persian forms), Outlook's "-----Original Message-----" and
"From: / Sent: / To: / Subject:" header blocks (also in those languages), ">" quoting with
top- or bottom-posting, "-- " signatures and "Sent from my phone" footers. Inline forwarded
messages ("---------- Forwarded message ---------", Apple's "Begin forwarded message:") are
content, not history, and are kept.
"""

from __future__ import annotations

import re

# Direction marks that Gmail wraps around right-to-left attribution lines (Persian, Arabic).
_BIDI_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")

# "On <date>, <name> wrote:" in the languages whose mail clients we see most. Lines are matched
# after up to three physical lines were joined, because Gmail wraps long attributions.
_ATTRIBUTION = re.compile(
    r"""^(?:
        On\s.{3,300}\swrote\s?:                      # English: Gmail, Apple Mail, Thunderbird
      | Le\s.{3,300}\sa\s[ée]crit\s?:                 # French
      | Am\s.{3,300}\sschrieb.{0,120}:                # German
      | El\s.{3,300}\sescribi[óo]\s?:                 # Spanish
      | Il\s.{3,300}\sha\sscritto\s?:                 # Italian
      | Op\s.{3,300}\sschreef.{0,120}:                # Dutch
      | (?:Em|No\sdia)\s.{3,300}\sescreveu\s?:        # Portuguese
      | Vào\s.{3,300}\sđã\sviết\s?:                   # Vietnamese (Gmail)
      | در\s.{3,300}\sنوشت(?:ه\sاست|ه)?\s?:           # Persian (Gmail: "در تاریخ ... نوشت:")
      | .{1,300}\s(?:wrote|writes|пишет|написал\(а\)|писал\(а\))\s?:  # short forms
    )$""",
    re.IGNORECASE | re.VERBOSE,
)

# Outlook's separator line between the reply and the original.
_ORIGINAL_MESSAGE = re.compile(
    r"^-{3,}\s*(?:Original\sMessage|Ursprüngliche\sNachricht|Message\sd'origine|Mensaje\s"
    r"original|Messaggio\soriginale|Oorspronkelijk\sbericht|Mensagem\soriginal|Thư\sgốc|"
    r"پیام\sاصلی)\s*-{3,}$",
    re.IGNORECASE,
)
# Outlook (desktop and web) draws a line of underscores above the original's header block.
_UNDERSCORE_RULE = re.compile(r"^_{20,}$")

# Header names of Outlook's quoted header block, per language. "From" starts the block.
_FROM_KEYS = r"From|De|Von|Van|Da|Från|Fra|Od|От|Từ|Người\sgửi|از|فرستنده"
_OTHER_KEYS = (
    r"Sent|Date|To|Cc|Subject|Envoyé|Date|À|Objet|Gesendet|Datum|An|Betreff|Enviado|Fecha|"
    r"Para|Asunto|Inviato|Oggetto|A|Verzonden|Aan|Onderwerp|Assunto|Đã\sgửi|Ngày|Đến|Tới|"
    r"Chủ\sđề|ارسال\sشده|تاریخ|به|موضوع|Отправлено|Кому|Тема"
)
_BLOCK_FROM = re.compile(rf"^\*?(?:{_FROM_KEYS})\s?:\*?\s*\S", re.IGNORECASE)
_BLOCK_OTHER = re.compile(rf"^\*?(?:{_OTHER_KEYS})\s?:\*?(?:\s|$)", re.IGNORECASE)

# Markers that introduce a message forwarded inline: what follows is content to keep.
_FORWARD_MARKER = re.compile(
    r"^(?:-{2,}\s*(?:Forwarded\smessage|Forwarded\sMessage|Message\stransféré|Weitergeleitete"
    r"\sNachricht|Mensaje\sreenviado|Messaggio\sinoltrato|Doorgestuurd\sbericht|Mensagem\s"
    r"encaminhada|Thư\sđã\schuyển\stiếp|Thư\sđược\schuyển\stiếp|پیام\sبازارسال\s?شده|"
    r"پیام\sهدایت\s?شده)\s*-{2,}|Begin\sforwarded\smessage\s?:)$",
    re.IGNORECASE,
)

# Footers phone mail apps add; only removed when they end the new text.
_MOBILE_FOOTER = re.compile(
    r"^(?:Sent\sfrom\smy\s.{1,40}|Sent\sfrom\s(?:Outlook|Mail)\sfor\s.{1,30}|Get\sOutlook\sfor\s"
    r".{1,30}|Gửi\stừ\s.{1,40}|ارسال\sشده\sاز\s.{1,40}|Von\smeinem\s.{1,40}\sgesendet|"
    r"Envoyé\sde\smon\s.{1,40})$",
    re.IGNORECASE,
)

# Lines longer than this are prose, never an attribution or header line; skipping them keeps
# the regular expressions cheap on mails with megabyte-long lines.
_MAX_MARKER_LINE = 1000


def _plain(line: str) -> str:
    """A line as compared with the markers: no direction marks, trimmed, single-spaced."""
    # split() and strip() take the same characters for white space as the regular expression
    # ``\s`` does on str (every code point checked), at less than half its cost a line.
    return " ".join(_BIDI_MARKS.sub("", line).split())


def _is_quoted(line: str) -> bool:
    return _BIDI_MARKS.sub("", line).lstrip().startswith(">")


def _is_blank(line: str) -> bool:
    return not _plain(line)


def _attribution_at(lines: list[str], index: int) -> int:
    """Return how many lines (1-3) form an attribution starting at *index*, or 0."""
    joined = ""
    for count in range(1, 4):
        if index + count > len(lines):
            break
        line = lines[index + count - 1]
        if len(line) > _MAX_MARKER_LINE or _is_quoted(line) or (count > 1 and _is_blank(line)):
            break
        joined = f"{joined} {_plain(line)}".strip()
        if _ATTRIBUTION.match(joined):
            return count
    return 0


def _outlook_block_at(lines: list[str], index: int) -> bool:
    """True when *index* starts an Outlook-style "From: / Sent: / To: / Subject:" block."""
    if len(lines[index]) > _MAX_MARKER_LINE or not _BLOCK_FROM.match(_plain(lines[index])):
        return False
    # A real block has at least two more header lines right below; a sentence starting
    # with "From:" does not. Outlook wraps long To:/Cc: lists: tolerate one other line.
    others = misses = 0
    for line in lines[index + 1 : index + 8]:
        plain = _plain(line)
        if plain and len(line) <= _MAX_MARKER_LINE and _BLOCK_OTHER.match(plain):
            others += 1
            continue
        if others >= 2:
            break
        misses += 1
        if misses > 1:
            break
    return others >= 2


def _history_start(lines: list[str], *, forward: bool) -> tuple[int, str] | None:
    """Find where quoted history (or, for forwards, the forwarded message) starts.

    Returns ``(index, kind)`` with kind ``"quote"`` (history to hide), ``"attribution"`` (an
    "On ... wrote:" line, whose quoted lines may be followed by a bottom-posted answer) or
    ``"forward"`` (forwarded content to keep), or ``None``.
    """
    for index, line in enumerate(lines):
        if len(line) > _MAX_MARKER_LINE or _is_quoted(line):
            continue
        plain = _plain(line)
        if not plain:
            continue
        if _FORWARD_MARKER.match(plain):
            return index, "forward"
        outlook_kind = "forward" if forward else "quote"
        if _ORIGINAL_MESSAGE.match(plain):
            return index, outlook_kind
        if _UNDERSCORE_RULE.match(plain) and index + 1 < len(lines):
            following = next((i for i in range(index + 1, len(lines)) if lines[i].strip()), None)
            if following is not None and _outlook_block_at(lines, following):
                return index, outlook_kind
        if _outlook_block_at(lines, index):
            return index, outlook_kind
        count = _attribution_at(lines, index)
        if count and (_quote_follows(lines, index + count) or _looks_dated(lines, index, count)):
            return index, "attribution"
    return None


def _quote_follows(lines: list[str], index: int) -> bool:
    """True when the first non-blank line from *index* on is ">" quoted."""
    following = next((line for line in lines[index:] if not _is_blank(line)), "")
    return _is_quoted(following)


def _looks_dated(lines: list[str], index: int, count: int) -> bool:
    """True when an attribution names a date, time or address, as clients' generated ones do.

    Without a ">" block below, "My colleague wrote:" is a person's sentence, while
    "On Mon, 4 Mar 2024 at 10:00, Ann <ann@example.com> wrote:" is a client's attribution.
    """
    joined = " ".join(lines[index : index + count])
    return bool(re.search(r"@|\d", joined))


def _drop_quote_runs(lines: list[str], *, reply: bool) -> list[str]:
    """Remove a trailing ">" block, or a leading one followed by a bottom-posted answer.

    Interleaved replies (answers between several quoted blocks) keep their quotes, since the
    answers mean nothing without the questions.
    """
    kinds = ["blank" if _is_blank(x) else "quote" if _is_quoted(x) else "text" for x in lines]
    runs: list[tuple[str, int, int]] = []  # (kind, start, end) of quote/text runs, blanks skipped
    for index, kind in enumerate(kinds):
        if kind == "blank":
            continue
        if runs and runs[-1][0] == kind and all(k == "blank" for k in kinds[runs[-1][2] : index]):
            runs[-1] = (kind, runs[-1][1], index + 1)
        else:
            runs.append((kind, index, index + 1))
    quote_runs = [run for run in runs if run[0] == "quote"]
    if not quote_runs or not reply:
        # In a mail that answers nothing, ">" lines are the sender's own quoting (an error
        # message, a passage of the terms), not history.
        return lines
    if runs[-1][0] == "quote":
        start = runs[-1][1]
        # The line introducing the quote ("Ivan <ivan@example.ru>:") ends with a colon.
        previous = max((i for i in range(start) if kinds[i] != "blank"), default=None)
        if previous is not None and _plain(lines[previous]).endswith(":"):
            start = previous
        if len(quote_runs) == 1:
            return lines[:start]
        return lines  # interleaved: keep the questions the answers refer to
    if len(quote_runs) == 1 and runs[0][0] == "quote":
        return lines[runs[0][2] :]  # bottom-posted answer below the quote
    return lines


def _cut_signature(lines: list[str]) -> list[str]:
    """Cut at the "-- " signature separator (also accepted without its trailing space)."""
    for index, line in enumerate(lines):
        if line.rstrip("\r") in ("-- ", "--"):
            return lines[:index]
    return lines


def _trim(lines: list[str]) -> list[str]:
    """*lines* without the blank lines at either end (one copy: a copy a line made 100,000
    blank lines take five seconds)."""
    end = len(lines)
    while end and _is_blank(lines[end - 1]):
        end -= 1
    start = 0
    while start < end and _is_blank(lines[start]):
        start += 1
    return lines[start:end]


def strip_quotes(text: str, *, forward: bool = False, reply: bool = True) -> str:
    """Return the part of *text* the sender just wrote, without quoted history or signature.

    *forward* says the mail is a forward (its subject starts with "Fwd:"/"FW:"): then an
    Outlook header block introduces the forwarded message, which is kept rather than hidden.
    *reply* says the mail answers an earlier one (it has In-Reply-To/References or a "Re:"
    subject); only then is a bare ">" block without an attribution line taken for history.
    Returns ``""`` when nothing new was written (e.g. a reply that only attaches a file).
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept_tail: list[str] = []
    found = _history_start(lines, forward=forward)
    if found is not None:
        index, kind = found
        if kind == "forward":
            kept_tail = _trim(lines[index:])
            lines = lines[:index]
        elif kind == "attribution":
            after = lines[index + _attribution_at(lines, index) :]
            kinds = [_is_quoted(x) for x in after if not _is_blank(x)]
            if kinds and kinds[0] and not all(kinds):
                # Bottom-posting or interleaving below "On ... wrote:": let the ">" rules
                # decide, after dropping the attribution line itself.
                lines = lines[:index] + after
            else:
                lines = lines[:index]
        else:
            lines = lines[:index]
    lines = _cut_signature(_drop_quote_runs(_trim(lines), reply=reply))
    lines = _trim(lines)
    if lines and _MOBILE_FOOTER.match(_plain(lines[-1])):
        lines = _trim(lines[:-1])
    parts = ["\n".join(lines).rstrip()]
    if kept_tail:
        parts.append("\n".join(kept_tail).rstrip())
    return "\n\n".join(part for part in parts if part)
