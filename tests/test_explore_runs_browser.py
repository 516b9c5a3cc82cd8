"""The run pages of the explorer in a real browser (Debian's chromium through Playwright, as test_explore_browser).

Tiny trained runs (tests.run_fixtures: a few steps on generated digits and a generated play) and some broken
folders go into a runs folder; `dlf explore --runs DIR` serves them in its own process. The tests draw a stroke and
move it (the predictions change), sample text (it streams in), move a VAE latent slider (the image changes), have a
PixelCNN complete a drawn top half, read the reason a broken folder is refused, open a run page from a link (its
settings restored) and see a run written while the explorer runs appear on Rescan. Screenshots go to
test-artifacts/explore/runs-<page>.png.
"""

import shutil
from pathlib import Path

import pytest

pytest.importorskip("gradio", reason="the explorer needs gradio: pip install 'dlf[explore]'")
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright: pip install playwright")
CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM}: apt-get install chromium",
                allow_module_level=True)

from dlf.explore.server import free_port  # noqa: E402
from tests.helpers import start_explorer  # noqa: E402

pytestmark = pytest.mark.slow
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "explore"
SERVER = """
import sys
from dlf.explore.server import serve
serve(port=int(sys.argv[1]), quiet=True, runs=sys.argv[2])
"""


@pytest.fixture(scope="module")
def runs(tiny_runs, tmp_path_factory):
    """A runs folder of its own (copies of tiny runs, and broken folders), so that a test can add a run to it."""
    from tests.run_fixtures import make_broken

    root = tmp_path_factory.mktemp("served")
    for kind, path in tiny_runs.get("mnist-mlp", "mnist-cnn", "char-rnn", "vae", "pixelcnn").items():
        shutil.copytree(path, root / kind)
    make_broken(root)
    return root, tiny_runs.data


@pytest.fixture(scope="module")
def server(runs):
    yield from start_explorer(SERVER, [str(free_port()), str(runs[0])], {"DLF_DATA_DIR": str(runs[1])})


@pytest.fixture(scope="module")
def page(server):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        pg = browser.new_page(viewport={"width": 1360, "height": 1000})
        pg.set_default_timeout(30_000)
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(server)
        pg.wait_for_selector("#tab-runs-button")
        yield pg
        assert not errors, f"script errors in the page: {errors[:3]}"
        browser.close()


def open_tab(page, title: str) -> None:
    """Open the sub-tab `title` of the "Trained runs" tab."""
    page.locator("#tab-runs-button").click()
    page.get_by_role("tab", name=title, exact=True).click()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"runs-{name}.png"), full_page=True)


def test_broken_run_folders_are_listed_with_their_reason(page):
    open_tab(page, "All runs")
    listing = page.locator("#runs-list")
    listing.wait_for()
    text = listing.inner_text()
    assert "config.json is not valid JSON" in text  # corrupt
    assert "experiment 'teleport'" in text  # unknown kind
    assert "no checkpoint yet" in text  # half-written
    assert "no config.json" in text  # not a run at all
    assert text.count("ready") >= 4
    screenshot(page, "list")


def test_a_drawn_digit_is_classified_live_and_predictions_follow_a_shift(page):
    open_tab(page, "Handwriting")
    canvas = page.locator("#hw-canvas")
    canvas.wait_for()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 140, box["y"] + 50)
    page.mouse.down()
    for k in range(1, 11):  # a vertical stroke down the middle
        page.mouse.move(box["x"] + 140, box["y"] + 50 + 18 * k)
    page.mouse.up()
    page.wait_for_function("() => document.querySelector('#hw-probs').dataset.top?.includes('mnist-cnn')")
    probs = page.locator("#hw-probs")
    assert "mnist-mlp" in probs.get_attribute("data-top")
    before = probs.get_attribute("data-top")
    updates = int(probs.get_attribute("data-updates"))
    for _ in range(4):
        page.click("#hw-right")
    page.wait_for_function(f"() => +document.querySelector('#hw-probs').dataset.updates > {updates}")
    page.wait_for_timeout(500)  # the last shift's answer
    assert "shift (4, 0)" in page.inner_text("#hw-shift")
    assert probs.get_attribute("data-top") != before, "the probabilities follow the moved digit"
    screenshot(page, "handwriting")


def test_char_rnn_sample_streams_in(page):
    open_tab(page, "Char-RNN")
    page.locator("#text-prime textarea").fill("ALICE:")
    page.click("#text-go")
    page.wait_for_function("() => document.querySelector('#text-sample textarea')?.value.length > 100")
    assert page.locator("#text-sample textarea").input_value().startswith("ALICE:")
    page.wait_for_function("() => document.querySelector('#text-status')?.innerText.includes('characters after')")
    assert "track a property" in page.inner_text("#text-units")  # the interpretable units, listed on load
    page.locator("#text-input textarea").fill("BOB: the cat")
    page.click("#text-colour")
    page.wait_for_selector(".unit-text[data-unit='0']")
    assert page.locator(".unit-text span").count() == len("BOB: the cat")  # one coloured span per character
    screenshot(page, "char-rnn")


def test_moving_a_latent_slider_redraws_the_vae_digit(page):
    open_tab(page, "VAE")
    image = page.locator("#vae-image img")
    image.wait_for()
    before = image.get_attribute("src")
    number = page.locator("#vae-z1 input[type=number]")
    number.fill("2.5")
    number.press("Enter")
    page.wait_for_function("() => document.querySelector('#vae-image img')?.dataset.z.startsWith('2.5')")
    assert page.locator("#vae-image img").get_attribute("src") != before
    assert page.locator("#vae-manifold img").count() == 1  # a 2-D latent shows its manifold
    screenshot(page, "vae")


def test_pixelcnn_completes_a_drawn_top_half_row_by_row(page):
    open_tab(page, "GAN & PixelCNN")
    pad = page.locator("#pad-canvas")
    pad.wait_for()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 112, box["y"] + 30)
    page.mouse.down()
    for k in range(10):  # a stroke down the top half
        page.mouse.move(box["x"] + 112, box["y"] + 30 + 8 * k)
    page.mouse.up()
    page.click("#pad-go")
    page.wait_for_function("() => document.querySelector('#pad-note')?.dataset.rows === '14'")
    assert page.inner_text("#pad-note") == "rows drawn: 14 of 14"
    screenshot(page, "pixelcnn")


def test_a_link_opens_a_run_page_as_it_was(page, server, runs):
    vae = str(runs[0] / "vae")
    open_tab(page, "VAE")
    page.locator("#vae-image img").wait_for()
    number = page.locator("#vae-z2 input[type=number]")
    number.fill("-1.25")
    number.press("Enter")
    z2_is = "() => document.querySelector('#vae-image img')?.dataset.z.split(' ')[1] === '-1.25'"
    page.wait_for_function(z2_is)
    page.click("#run-vae-link-button")
    page.wait_for_function("() => (document.querySelector('#run-vae-link textarea, #run-vae-link input')"
                           "?.value || '').includes('z2=-1.25')")
    link = page.locator("#run-vae-link textarea, #run-vae-link input").first.input_value()
    assert link.startswith(server + "run-vae?run=") and "&z3=0&" in link  # the page alone (trained.standalone)
    other = fresh(page, link)  # a fresh tab: the VAE page opens at once, drawn at the link's z
    try:
        other.wait_for_function(z2_is)
        assert other.locator("#vae-z2 input[type=number]").input_value() == "-1.25"
        assert other.locator("#vae-run input").input_value() == vae
    finally:
        other.close()
    other = fresh(page, server + "?tab=run-text&prime=BOB:&temperature=0.5&top_k=3&seed=7&run=/not/a/run")
    try:
        other.locator("#text-prime textarea").wait_for()
        other.wait_for_function("() => document.querySelector('#text-prime textarea').value === 'BOB:'")
        assert other.locator("#text-temperature input[type=number]").input_value() == "0.5"
        assert other.locator("#text-seed input").input_value() == "7"
        assert other.locator("#text-run input").input_value() == str(runs[0] / "char-rnn")  # a bad run: ignored
        other.click("#text-go")
        other.wait_for_function("() => document.querySelector('#text-sample textarea')?.value.startsWith('BOB:')")
        screenshot(other, "link")
    finally:
        other.close()


def fresh(page, url: str):
    """A new browser tab (its own context, so nothing cached) opened at `url`."""
    other = page.context.browser.new_page(viewport={"width": 1360, "height": 1000})
    other.set_default_timeout(60_000)
    other.goto(url)
    return other


def test_a_run_written_while_the_explorer_runs_appears_on_rescan(page, runs, tiny_runs):
    root = runs[0]
    open_tab(page, "All runs")
    assert not page.get_by_role("tab", name="Word vectors", exact=True).is_visible()  # no word2vec run yet
    shutil.copytree(tiny_runs.get("word2vec")["word2vec"], root / "word2vec")
    shutil.copytree(root / "vae", root / "vae-2")
    page.click("#runs-rescan")
    page.wait_for_function("() => document.querySelector('#runs-list')?.innerText.includes('vae-2')")
    assert "word2vec" in page.inner_text("#runs-list")
    words = page.get_by_role("tab", name="Word vectors", exact=True)
    words.wait_for()
    words.click()
    page.wait_for_function("() => document.querySelector('#words-status')?.innerText.includes('vocabulary')")
    other = fresh(page, f"{page.url.split('?')[0]}?tab=run-vae&run={root / 'vae-2'}&z1=2")
    try:  # a link to the new run opens it
        other.wait_for_function("() => document.querySelector('#vae-image img')?.dataset.z.startsWith('2 ')")
        assert other.locator("#vae-run input").input_value() == str(root / "vae-2")
    finally:
        other.close()


def test_a_run_page_alone_opens_from_its_link_with_its_settings(page, server, runs):
    vae = str(runs[0] / "vae")
    other = fresh(page, f"{server}run-vae?run={vae}&z1=1.5&z2=-0.5&a=3")
    try:
        other.wait_for_function("() => document.querySelector('#vae-image img')?.dataset.z.startsWith('1.5 -0.5 ')")
        assert other.locator("#vae-z1 input[type=number]").input_value() == "1.5"
        assert other.locator("#vae-a input").input_value() == "3"
        assert other.locator("#vae-run input").input_value() == vae
        assert other.locator("#tab-runs-button").count() == 0  # only this page's widgets, not the whole app
        assert other.locator("a[href='./']").count() == 1  # the way back to the whole explorer
        number = other.locator("#vae-z1 input[type=number]")
        number.fill("-2")
        number.press("Enter")  # the page redraws on the user's input
        other.wait_for_function("() => document.querySelector('#vae-image img')?.dataset.z.startsWith('-2 -0.5 ')")
        other.click("#run-vae-link-button")
        other.wait_for_function("() => (document.querySelector('#run-vae-link textarea, #run-vae-link input')"
                                "?.value || '').includes('z1=-2')")
        link = other.locator("#run-vae-link textarea, #run-vae-link input").first.input_value()
        assert link.startswith(server + "run-vae?run=") and "z2=-0.5" in link
        screenshot(other, "alone-vae")
    finally:
        other.close()


def test_a_run_page_alone_ignores_a_foreign_run_and_names_a_broken_one(page, server, runs):
    char_rnn = str(runs[0] / "char-rnn")
    other = fresh(page, f"{server}run-text?run=/not/a/run&prime=BOB:&seed=7")
    try:
        other.wait_for_function("() => document.querySelector('#text-status')?.innerText.includes('ignored')")
        assert other.locator("#text-run input").input_value() == char_rnn
        assert other.locator("#text-prime textarea").input_value() == "BOB:"
        assert other.locator("#text-seed input").input_value() == "7"
    finally:
        other.close()
    other = fresh(page, f"{server}run-text?run={runs[0] / 'half'}")  # a run folder with no checkpoint
    try:
        other.wait_for_function("() => document.querySelector('#text-status')?.innerText.includes('cannot be')")
        assert "half-written: no checkpoint yet" in other.inner_text("#text-status")
        assert other.locator("#text-run input").input_value() == char_rnn
        other.click("#text-go")  # the page works with the run it opened instead
        other.wait_for_function("() => document.querySelector('#text-sample textarea')?.value.length > 10")
        screenshot(other, "alone-broken")
    finally:
        other.close()
