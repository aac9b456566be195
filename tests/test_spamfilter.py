"""The spam filter's arithmetic (flask_helpdesk/spamfilter.py): tokens in any script, a
naive Bayes score that learns from a small hand-made set, and learning that undoes exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flask_helpdesk import spamfilter
from flask_helpdesk.spamfilter import Counts, tokenize

# A tiny labelled set, written for these tests (the real corpus is bench/spam_eval.py's).
SPAM = [
    ("Cheap followers!!!", "Buy 10,000 followers now, cheap, limited offer, click here"),
    ("Win a free iPhone", "Congratulations winner! Click here to claim your free prize now"),
    ("Casino bonus", "Free casino bonus, claim now, click the link, limited offer"),
    ("Giảm giá 90%", "Mua ngay hôm nay, giảm giá cực sốc, nhấn vào đây để nhận quà miễn phí"),
    ("جایزه رایگان", "برنده شدید! همین حالا کلیک کنید و جایزه رایگان خود را دریافت کنید"),
]
HAM = [
    ("Cannot log in", "Hello, I cannot log in to my account since yesterday. Can you help?"),
    ("Invoice question", "My invoice for March shows the wrong amount, please check it"),
    ("Password reset", "The password reset mail never arrives in my inbox"),
    ("Không đăng nhập được", "Tôi không thể đăng nhập vào tài khoản của mình từ hôm qua"),
    ("مشکل ورود", "سلام، از دیروز نمی‌توانم وارد حساب کاربری‌ام شوم. لطفا کمک کنید"),
]


def trained() -> Counts:
    model = Counts()
    for subject, body in SPAM:
        model.learn(tokenize(subject, body, "promo.example.net"), True)
    for subject, body in HAM:
        model.learn(tokenize(subject, body, "example.com"), False)
    return model


def test_tokens_are_case_folded_unicode_words_with_subject_and_sender_marks():
    tokens = tokenize("Invoice WRONG", "The invoice is wrong.", "Mail.Shop.Example.COM")
    assert tokens[:2] == ["from:shop.example.com", "from:example.com"]
    assert "subject:invoice" in tokens and "subject:wrong" in tokens
    assert "invoice" in tokens and "wrong" in tokens and "the" in tokens
    assert len(tokens) == len(set(tokens))


def test_vietnamese_words_keep_their_tone_marks_and_fold_case():
    tokens = tokenize("", "KHÔNG đăng nhập được", None)
    assert tokens == ["không", "đăng", "nhập", "được"]
    # Decomposed input (a combining mark after the letter) is the same token.
    assert tokenize("", "đăng", None) == tokenize("", "đa\u0306ng", None)


def test_persian_words_keep_the_zero_width_non_joiner_and_unify_arabic_letters():
    tokens = tokenize("", "نمی‌توانم وارد شوم", None)
    assert tokens == ["نمی\u200cتوانم", "وارد", "شوم"]
    # Arabic yeh and kaf (ي ك) are the Persian ی and ک.
    assert tokenize("", "كمك", None) == tokenize("", "کمک", None)


def test_tokens_and_their_number_are_bounded():
    long_word = "x" * 300
    assert tokenize("", long_word, None) == ["skip:x300"]
    many = " ".join(f"w{i}" for i in range(5000))
    assert len(tokenize("", many, None)) == spamfilter.MAX_TOKENS
    assert all(len(t) <= spamfilter.MAX_STORED_LENGTH for t in tokenize("a " * 10, many, "x.y"))
    assert tokenize("", "", "not a domain") == []


def test_a_small_training_set_separates_spam_from_good_requests():
    model = trained()
    spam = model.score(tokenize("Free prize", "Click here to claim your free prize now", None))
    ham = model.score(tokenize("Login", "I cannot log in to my account, please help", None))
    assert spam.score > 0.9
    assert ham.score < 0.1
    assert {"click", "free", "prize", "claim"} <= set(spam.deciding_words())
    assert "account" in ham.deciding_words()


def test_vietnamese_and_persian_spam_and_requests_are_told_apart():
    model = trained()
    assert model.score(tokenize("", "giảm giá cực sốc, nhấn vào đây nhận quà", None)).score > 0.9
    assert model.score(tokenize("", "tôi không thể đăng nhập vào tài khoản", None)).score < 0.1
    assert model.score(tokenize("", "جایزه رایگان، همین حالا کلیک کنید", None)).score > 0.9
    assert model.score(tokenize("", "نمی‌توانم وارد حساب کاربری شوم", None)).score < 0.1


def test_an_empty_model_is_unsure():
    assert Counts().score(tokenize("Free prize", "click here", None)).score == 0.5


documents = st.lists(
    st.tuples(st.text(max_size=60), st.text(max_size=300), st.booleans()),
    min_size=1,
    max_size=8,
)


@given(documents, documents)
def test_learning_then_unlearning_leaves_the_counts_as_they_were(before, extra):
    model = Counts()
    for subject, body, is_spam in before:
        model.learn(tokenize(subject, body, None), is_spam)
    snapshot = (dict(model.tokens), model.spam_docs, model.ham_docs)
    for subject, body, is_spam in extra:
        model.learn(tokenize(subject, body, None), is_spam)
    for subject, body, is_spam in reversed(extra):
        model.learn(tokenize(subject, body, None), is_spam, sign=-1)
    assert (model.tokens, model.spam_docs, model.ham_docs) == snapshot
