"""Every data set an experiment reads: where it comes from, what it is, how to check it and how to unpack it.

`dlf data list` prints this table with what is present; `dlf data download NAME` fetches one entry (see
`dlf.data.download`). A data set lands in `<data root>/<folder>/` (see `dlf.data.paths` for the root), in the
layout the experiments read:

    mnist            mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz   mnist-mlp, -cnn, -rnn, pixelcnn, vae, gan
    tinyshakespeare  tinyshakespeare/input.txt                              char-rnn (default)
    text8            text8/text8                                            word2vec (default)
    questions-words  eval/questions-words.txt                               word2vec's analogy score
    wordsim353       eval/wordsim353.tsv                                    word2vec's similarity score
    mr               sentiment/rt-polarity.{pos,neg}                        sentiment-unit's probe
    movie-reviews    sentiment/movie_reviews.jsonl                          sentiment-unit (default text)
    imdb             imdb/reviews.jsonl                                     sentiment-unit --reviews (optional)

Every SHA-256 here was published by someone else (the project the file comes from, or a widely used loader:
tensorflow-datasets, torchvision, the papers' code) or is that of the development copy built from the same
public file; none is computed from a download made only by dlf. Where only the extracted members' sums are
known, those are checked; where only the archive's sum is known, the archive is checked before it is unpacked.
Each data set's mirror list can be replaced by an environment variable holding comma-separated base URLs (http,
https or file), e.g. `DLF_TEXT8_MIRRORS=file:///srv/mirror/`; the file URL is base + file name.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from dlf.data.mnist import MNIST_FILES, MNIST_SHA256
from dlf.errors import DataError

GITHUB_RAW = "https://raw.githubusercontent.com/"
NLTK_CORPORA = GITHUB_RAW + "nltk/nltk_data/gh-pages/packages/corpora/"
GENSIM_TEST_DATA = GITHUB_RAW + "piskvorky/gensim/develop/gensim/test/test_data/"


@dataclass(frozen=True)
class DatasetSpec:
    """One downloadable data set; tests replace `mirrors` with a local server and the sums with a fixture's."""

    name: str  # the CLI name: dlf data download NAME
    folder: str  # the folder under the data root
    files: Mapping[str, str | None]  # file in `folder` -> sha256 of its bytes (gunzipped for .gz); None: see remote
    remote: tuple[str, ...]  # file names on the mirrors; URL = mirror base + name
    mirrors: tuple[str, ...]  # base URLs, tried in order
    remote_sha256: Mapping[str, str] = field(default_factory=dict)  # sha256 of a remote file as downloaded
    unpack: str = "none"  # "none": stored as downloaded; "zip" / "tar.gz": an archive, see members / convert
    members: Mapping[str, str] = field(default_factory=dict)  # archive member (or its last path part) -> file
    convert: str | None = None  # a post-processing step of dlf.data.convert, archive -> files
    mirrors_env: str | None = None  # environment variable that, when set, replaces `mirrors`
    description: str = ""
    source: str = ""  # where the bytes come from, for `dlf data list`
    home: str = ""  # the data set's home page
    licence: str = ""
    download_bytes: int | None = None  # what travels, where published
    disk_bytes: int | None = None  # what stays on disk
    timeout: float = 30.0  # seconds without data before a connection is given up
    tries_per_mirror: int = 3  # attempts on one mirror for transient errors (dropped connection, timeout, 5xx)
    retry_wait: float = 1.0  # seconds before the second attempt (times the attempt number after that)

    def resolved_mirrors(self) -> tuple[str, ...]:
        """`mirrors`, or the comma-separated list in `$mirrors_env` when that is set and not empty."""
        env = os.environ.get(self.mirrors_env, "") if self.mirrors_env else ""
        given = tuple(m.strip() for m in env.split(",") if m.strip())
        return given or self.mirrors

    @property
    def command(self) -> str:
        return f"dlf data download {self.name}"


MNIST = DatasetSpec(
    name="mnist", folder="mnist",
    files=dict(MNIST_SHA256),  # of the uncompressed bytes: LeCun's .gz and any re-compressed copy both pass
    remote=tuple(f"{name}.gz" for name in MNIST_FILES.names),
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    mirrors_env="DLF_MNIST_MIRRORS",
    description="handwritten digits, 60,000 training and 10,000 test images (LeCun et al. 1998)",
    source="the four IDX files, as torchvision fetches them", home="http://yann.lecun.com/exdb/mnist/",
    licence="CC BY-SA 3.0 (as usually cited)", download_bytes=11_594_722, disk_bytes=11_594_722,
)
TINYSHAKESPEARE = DatasetSpec(
    name="tinyshakespeare", folder="tinyshakespeare",
    files={"input.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"},
    remote=("input.txt",), mirrors=(GITHUB_RAW + "karpathy/char-rnn/master/data/tinyshakespeare/",),
    mirrors_env="DLF_TINYSHAKESPEARE_MIRRORS",
    description="Tiny Shakespeare: 1.1 M characters of the plays (Karpathy 2015), char-rnn's default text",
    source="GitHub karpathy/char-rnn, data/tinyshakespeare/input.txt", home="https://github.com/karpathy/char-rnn",
    licence="public domain text (repository: MIT)", download_bytes=1_115_394, disk_bytes=1_115_394,
)
TEXT8 = DatasetSpec(
    name="text8", folder="text8",
    files={"text8": "6e890197040d37d85beb962ae1f041ff1d9a9ca8d20c7d99c85027eebf51dca7"},
    remote=("text8.zip",), mirrors=("http://mattmahoney.net/dc/",), mirrors_env="DLF_TEXT8_MIRRORS",
    remote_sha256={"text8.zip": "a6640522afe85d1963ad56c05b0ede0a0c000dddc9671758a6cc09b7a38e5232"},
    unpack="zip", members={"text8": "text8"},
    description="text8: the first 10^8 characters of English Wikipedia (2006), cleaned to a-z and spaces, "
                "17 M words; the standard word2vec benchmark corpus",
    source="Matt Mahoney's text8.zip (the word2vec demo's corpus)", home="http://mattmahoney.net/dc/textdata.html",
    licence="Wikipedia text: CC BY-SA / GFDL", download_bytes=31_344_016, disk_bytes=100_000_000,
)
QUESTIONS_WORDS = DatasetSpec(
    name="questions-words", folder="eval",
    files={"questions-words.txt": "8c29b3332afc46f3fb8be04cb5297bf96f39aa7131272dff57869b4485b22a36"},
    remote=("questions-words.txt",), mirrors=(GITHUB_RAW + "tmikolov/word2vec/master/", GENSIM_TEST_DATA),
    mirrors_env="DLF_QUESTIONS_WORDS_MIRRORS",
    description="Google's word analogies (Mikolov et al. 2013): 19,544 questions, 'a is to b as c is to ?'",
    source="GitHub tmikolov/word2vec, questions-words.txt (gensim's test data holds the same bytes)",
    home="https://github.com/tmikolov/word2vec", licence="Apache-2.0",
    download_bytes=603_955, disk_bytes=603_955,
)
WORDSIM353 = DatasetSpec(
    name="wordsim353", folder="eval",
    files={"wordsim353.tsv": "f92a022fc2537793a15bc3a8c162ebcd74990e033a228bb6388cb71e4c0b1e1d"},
    remote=("wordsim353.tsv",), mirrors=(GENSIM_TEST_DATA,), mirrors_env="DLF_WORDSIM353_MIRRORS",
    description="WordSim-353 (Finkelstein et al. 2002): 353 word pairs with human similarity scores",
    source="GitHub piskvorky/gensim, gensim/test/test_data/wordsim353.tsv",
    home="http://www.cs.technion.ac.il/~gabr/resources/data/wordsim353/",
    licence="free for research (no formal licence)", download_bytes=7_186, disk_bytes=7_186,
)
MR = DatasetSpec(
    name="mr", folder="sentiment",
    files={"rt-polarity.pos": "c2dc6b2f55bcf725725372916287cc3f8f9b19402edaa9167de5287cb3ade421",
           "rt-polarity.neg": "614274f81185a850e5a88d533d4679f916d6f62e9af6f0b4ec71fb94bf466ea5"},
    remote=("sentence_polarity.zip",), mirrors=(NLTK_CORPORA,), mirrors_env="DLF_MR_MIRRORS",
    unpack="zip", members={"rt-polarity.pos": "rt-polarity.pos", "rt-polarity.neg": "rt-polarity.neg"},
    description="MR, the sentence polarity data set v1.0 (Pang & Lee 2005): 5,331 positive and 5,331 negative "
                "review snippets",
    source="NLTK's sentence_polarity.zip (nltk_data on GitHub)",
    home="https://www.cs.cornell.edu/people/pabo/movie-review-data/", licence="CC BY 4.0 (NLTK's index)",
    disk_bytes=1_238_775,
)
MOVIE_REVIEWS = DatasetSpec(
    name="movie-reviews", folder="sentiment",
    files={"movie_reviews.jsonl": "41bc16dfbac677241fad42695c0a230edb757075cad199c32798141c39476fc3"},
    remote=("movie_reviews.zip",), mirrors=(NLTK_CORPORA,), mirrors_env="DLF_MOVIE_REVIEWS_MIRRORS",
    unpack="zip", convert="movie_reviews",
    description="the polarity data set v2.0 (Pang & Lee 2004): 2,000 full movie reviews, one JSON object a line",
    source="NLTK's movie_reviews.zip (nltk_data on GitHub), converted to movie_reviews.jsonl",
    home="https://www.cs.cornell.edu/people/pabo/movie-review-data/", licence="CC BY 4.0 (NLTK's index)",
    disk_bytes=7_976_320,
)
IMDB = DatasetSpec(
    name="imdb", folder="imdb",
    files={"reviews.jsonl": None},  # made from the checked archive by a fixed conversion
    remote=("aclImdb_v1.tar.gz",),
    mirrors=("https://ai.stanford.edu/~amaas/data/sentiment/", "http://ai.stanford.edu/~amaas/data/sentiment/"),
    mirrors_env="DLF_IMDB_MIRRORS",
    remote_sha256={"aclImdb_v1.tar.gz": "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"},
    unpack="tar.gz", convert="imdb", timeout=60.0,
    description="the Large Movie Review Dataset (Maas et al. 2011): 50,000 labelled and 50,000 unlabelled "
                "IMDB reviews, one JSON object a line",
    source="Stanford's aclImdb_v1.tar.gz (sha256 as in tensorflow-datasets), converted to reviews.jsonl",
    home="https://ai.stanford.edu/~amaas/data/sentiment/", licence="no licence stated; cite Maas et al. (2011)",
    download_bytes=84_125_825,
)

CATALOGUE: dict[str, DatasetSpec] = {spec.name: spec for spec in (
    MNIST, TINYSHAKESPEARE, TEXT8, QUESTIONS_WORDS, WORDSIM353, MR, MOVIE_REVIEWS, IMDB)}


def get(name: str) -> DatasetSpec:
    """The catalogue entry `name`; an unknown name is a one-line DataError naming the closest match."""
    key = name.strip().lower().replace("_", "-")  # movie_reviews, the NLTK spelling, is movie-reviews
    if key in CATALOGUE:
        return CATALOGUE[key]
    close = difflib.get_close_matches(key, list(CATALOGUE), n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise DataError(f"unknown data set {name!r}; {hint}choose one of: {', '.join(CATALOGUE)}, or all "
                    f"(dlf data list shows them)")


def providers(folder: str, filenames) -> list[DatasetSpec]:
    """The catalogue entries that put any of `filenames` into `folder` (for 'run dlf data download ...')."""
    wanted = set(filenames)
    return [spec for spec in CATALOGUE.values() if spec.folder == folder and wanted & set(spec.files)]
