import difflib
import pickle

from datatrove.utils.text import split_into_words
from datatrove.utils.word_tokenizers import load_word_tokenizer

from curation.words import HEBREW_WORDS, HebrewWordTokenizer


def test_agrees_with_spacy_blank_hebrew_on_news(news_docs):
    spacy_he = load_word_tokenizer("heb")
    same = total = 0
    for text in news_docs[:60]:
        a, b = spacy_he.word_tokenize(text), HEBREW_WORDS.word_tokenize(text)
        matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
        same += sum(block.size for block in matcher.get_matching_blocks())
        total += len(a)
    assert same / total >= 0.995


def test_keeps_hebrew_acronyms_numbers_and_prefixed_numbers_whole():
    assert HEBREW_WORDS.word_tokenize('צה"ל גייס 1,200 איש ב-1972, "כך".') == [
        'צה"ל',
        "גייס",
        "1,200",
        "איש",
        "ב-1972",
        ",",
        '"',
        "כך",
        '"',
        ".",
    ]


def test_is_shared_by_datatrove_steps_and_survives_pickling():
    clone = pickle.loads(pickle.dumps(HEBREW_WORDS))
    assert clone == HEBREW_WORDS and hash(clone) == hash(HebrewWordTokenizer())
    assert load_word_tokenizer(HEBREW_WORDS) is HEBREW_WORDS
    assert split_into_words("שלום, עולם", HEBREW_WORDS) == ["שלום", ",", "עולם"]
    assert HEBREW_WORDS.sent_tokenize("משפט ראשון. משפט שני!\nשורה") == ["משפט ראשון.", "משפט שני!", "שורה"]
