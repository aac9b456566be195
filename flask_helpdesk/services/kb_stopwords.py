"""Words that say nothing about which article a customer needs ("I", "my", "the"; "tôi",
"của"; "من", "را"), per language, left out of article searches.

Short on purpose: only pronouns, articles, particles and the commonest verbs of a request. A
help center holds a few dozen articles, too few for word statistics to tell "my" from
"refund" on their own; these lists do it for the words every request is made of.
"""

from __future__ import annotations

STOP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        """a an the i me my mine we us our you your he she it its they them their this that
        these those is am are was were be been being do does did have has had can could will
        would should shall may might must to of in on at by for from with about as into
        and or but if so not no yes please hi hello how what when where why who which there
        here get got want wanted need needed help just also very some any all""".split()  # noqa: SIM905
    ),
    "vi": frozenset(
        """tôi mình bạn anh chị em chúng ta họ nó của và là có không được các những một cho
        với thì mà này đó kia ở tại trong trên để khi nào gì sao vì làm muốn cần xin vui
        lòng giúp đã đang sẽ rồi cũng như hay hoặc nhé ạ ơi""".split()  # noqa: SIM905
    ),
    "fa": frozenset(
        """من ما تو شما او آنها این آن را از به با در برای که و یا تا اگر هم نه است هست
        بود شد کرد کنم کنید میخواهم می خواهم لطفا سلام چطور چگونه چه کجا چرا کی یک
        های ها""".split()  # noqa: SIM905
    ),
}


def without_stop_words(words: list[str], language: str | None) -> list[str]:
    """*words* minus the stop words of *language* (of every language if None); all of them if
    nothing else is left, so that a search for "how" still finds something."""
    if language in STOP_WORDS:
        stop = STOP_WORDS[language]
    else:
        stop = frozenset().union(*STOP_WORDS.values())
    kept = [w for w in words if w not in stop]
    return kept or words
