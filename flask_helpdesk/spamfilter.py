"""The spam classifier's arithmetic: tokens and a naive Bayes score, no database.

Pure functions over token counts, so that :mod:`flask_helpdesk.services.spam` (counts in the
database, one row per token) and ``bench/spam_eval.py`` (counts in a dict, over the
SpamAssassin corpus) run exactly the same code.

The score is Gary Robinson's refinement of naive Bayes as SpamBayes uses it: each token's
spam probability is estimated from the number of spam and ham *documents* containing it,
shrunk towards 0.5 when the token is rare, and the most telling tokens are combined with
Fisher's chi-square method. Unlike a plain product of probabilities it says "unsure" (a score
near 0.5) when the evidence points both ways, which keeps good mail out of quarantine; and
the tokens it used are the words shown to the agent.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Bounds: a token longer than this is recorded only as its length class (base64 noise, long
# URLs); a document contributes at most this many distinct tokens (a 25 MB mail costs the same
# as a page of text); text beyond this many characters is not read.
MAX_TOKEN_LENGTH = 40
MIN_TOKEN_LENGTH = 2
MAX_TOKENS = 1000
MAX_TEXT = 100_000
MAX_STORED_LENGTH = 64  # the database column: "subject:" plus the longest word fits

# Robinson's constants (SpamBayes' defaults): strength of the prior, the prior itself, how far
# from 0.5 a token must be to count, and how many of the strongest tokens decide.
PRIOR_STRENGTH = 0.45
PRIOR = 0.5
MIN_STRENGTH = 0.1
MAX_DISCRIMINATORS = 150

# Letters, digits, marks (Vietnamese tone marks after NFKC stay on their letter) and the
# zero-width non-joiner Persian writes inside words (می‌خواهم is one word).
_WORD = re.compile(r"[\w\u200c]+")
# Arabic-script letters that look alike but are distinct code points: a Persian keyboard types
# ی and ک, text from Arabic layouts or old systems has ي and ك. One spelling, one token.
_SAME_LETTER = str.maketrans({"\u064a": "\u06cc", "\u0643": "\u06a9", "\u0649": "\u06cc"})
_DOMAIN = re.compile(r"^[a-z0-9.-]+$")


def tokenize(subject: str, body: str, sender_domain: str | None = None) -> list[str]:
    """The distinct tokens of one ticket, in order of first appearance.

    Unicode words, NFKC-normalized and case-folded. Subject words carry a ``subject:``
    prefix (the same word means more in a subject line); the sender's domain and its parent
    domains are ``from:`` tokens.
    """
    seen: dict[str, None] = {}
    if sender_domain:
        domain = sender_domain.strip().lower().rstrip(".")
        if _DOMAIN.match(domain):
            parts = domain.split(".")
            for start in range(max(0, len(parts) - 3), len(parts) - 1):
                token = "from:" + ".".join(parts[start:])
                if len(token) <= MAX_STORED_LENGTH:
                    seen[token] = None
    for prefix, text in (("subject:", subject), ("", body)):
        for word in words(text):
            if len(seen) >= MAX_TOKENS:
                return list(seen)
            seen[prefix + word] = None
    return list(seen)


def words(text: str | None) -> Iterable[str]:
    """The words of *text* as tokens (see :func:`tokenize`), repeats included."""
    text = unicodedata.normalize("NFKC", (text or "")[:MAX_TEXT]).casefold()
    text = text.translate(_SAME_LETTER)
    for match in _WORD.finditer(text):
        word = match.group().strip("\u200c_")
        if len(word) < MIN_TOKEN_LENGTH:
            continue
        if len(word) > MAX_TOKEN_LENGTH:
            # "skip:" plus the length in tens: long junk is a signal, its exact text is not.
            yield f"skip:{word[0]}{len(word) // 10 * 10}"
            continue
        yield word


def sender_domain(address: str | None) -> str | None:
    """The domain of an email address, lower-cased; None when there is none."""
    _local, at, domain = (address or "").rpartition("@")
    return domain.strip().lower() or None if at else None


@dataclass(frozen=True)
class Verdict:
    """A score in 0..1 (1: spam) and the tokens that decided it, most telling first."""

    score: float
    spam_words: list[str]
    ham_words: list[str]

    def deciding_words(self, limit: int = 10) -> list[str]:
        """The words that pushed the score the way it went (for the agent to read)."""
        return (self.spam_words if self.score >= 0.5 else self.ham_words)[:limit]


def token_probability(spam: int, ham: int, spam_docs: int, ham_docs: int) -> float:
    """Robinson's f(w): the chance a document with this token is spam, shrunk to 0.5 when rare."""
    spam_ratio = spam / spam_docs if spam_docs else 0.0
    ham_ratio = ham / ham_docs if ham_docs else 0.0
    if spam_ratio + ham_ratio == 0:
        return PRIOR
    p = spam_ratio / (spam_ratio + ham_ratio)
    n = spam + ham
    return (PRIOR_STRENGTH * PRIOR + n * p) / (PRIOR_STRENGTH + n)


def _chi2_q(chi: float, freedom: int) -> float:
    """P(chi-square with *freedom* (even) degrees >= *chi*), in closed form."""
    m = chi / 2.0
    term = total = math.exp(-m)
    for i in range(1, freedom // 2):
        term *= m / i
        total += term
    return min(total, 1.0)


def score(
    tokens: Iterable[str], counts: Mapping[str, tuple[int, int]], spam_docs: int, ham_docs: int
) -> Verdict:
    """Score *tokens* against *counts* (token -> (spam documents, ham documents))."""
    clues: list[tuple[float, float, str]] = []
    for token in tokens:
        spam, ham = counts.get(token, (0, 0))
        if not spam and not ham:
            continue
        prob = token_probability(spam, ham, spam_docs, ham_docs)
        strength = abs(prob - 0.5)
        if strength >= MIN_STRENGTH:
            clues.append((strength, prob, token))
    clues.sort(key=lambda clue: (-clue[0], clue[2]))
    clues = clues[:MAX_DISCRIMINATORS]
    if not clues:
        return Verdict(0.5, [], [])
    # Sums of logs, not products: 150 probabilities multiply below the smallest float.
    ham_evidence = sum(math.log(max(p, 1e-12)) for _s, p, _t in clues)
    spam_evidence = sum(math.log(max(1.0 - p, 1e-12)) for _s, p, _t in clues)
    n = len(clues)
    spam_side = 1.0 - _chi2_q(-2.0 * spam_evidence, 2 * n)
    ham_side = 1.0 - _chi2_q(-2.0 * ham_evidence, 2 * n)
    result = (spam_side - ham_side + 1.0) / 2.0
    return Verdict(
        round(result, 6),
        [display(t) for _s, p, t in clues if p > 0.5],
        [display(t) for _s, p, t in clues if p < 0.5],
    )


def display(token: str) -> str:
    """A token as an agent reads it: the word, without the ``subject:`` prefix."""
    return token.removeprefix("subject:")


class Counts:
    """Token counts in memory (the benchmark's model; the desk keeps them in the database)."""

    def __init__(self) -> None:
        self.tokens: dict[str, tuple[int, int]] = {}
        self.spam_docs = 0
        self.ham_docs = 0

    def learn(self, tokens: Iterable[str], is_spam: bool, sign: int = 1) -> None:
        """Add (*sign* 1) or remove (*sign* -1) one document's tokens."""
        for token in tokens:
            spam, ham = self.tokens.get(token, (0, 0))
            spam, ham = (spam + sign, ham) if is_spam else (spam, ham + sign)
            if spam or ham:
                self.tokens[token] = (spam, ham)
            else:
                self.tokens.pop(token, None)
        if is_spam:
            self.spam_docs += sign
        else:
            self.ham_docs += sign

    def score(self, tokens: Iterable[str]) -> Verdict:
        return score(tokens, self.tokens, self.spam_docs, self.ham_docs)
