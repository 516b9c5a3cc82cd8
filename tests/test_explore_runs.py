"""The explorer's run pages without a browser: the scan's one-line reasons, and what each page computes from a
tiny trained run (tests.run_fixtures), checked against the experiments' own code."""

from __future__ import annotations

import base64

import pytest
import torch

from dlf.errors import DlfError
from dlf.explore.trained import models, scan

pytestmark = pytest.mark.slow  # trains seven tiny runs (about 15 s of CPU)
KINDS = ("mnist-mlp", "char-rnn", "vae", "pixelcnn", "gan", "word2vec", "cartpole")


@pytest.fixture(scope="module")
def root(tiny_runs):
    tiny_runs.get(*KINDS)
    return tiny_runs.root


@pytest.fixture(scope="module")
def infos(root):
    return {i.path.name: i for i in scan.scan(root)}


def test_scan_opens_every_kind_and_names_why_a_folder_cannot_open(infos, root):
    for name in KINDS:
        assert infos[name].reason == "" and infos[name].kind == scan.KINDS[name]
    assert "not valid JSON" in infos["corrupt"].reason
    assert "teleport" in infos["unknown"].reason
    assert "no checkpoint yet" in infos["half"].reason and "--resume" in infos["half"].reason
    assert "no config.json" in infos["stray"].reason
    assert scan.inspect(root / "nowhere").reason.startswith("missing")
    assert scan.scan(root / "nowhere") == []
    assert [i.path.name for i in scan.scan(root / "vae")] == ["vae"]  # --runs may name one run folder


def test_a_damaged_checkpoint_is_a_reason_not_a_crash(infos, tmp_path):
    import shutil

    bad = tmp_path / "vae"
    shutil.copytree(infos["vae"].path, bad)
    for f in bad.glob("checkpoints/*/tensors.safetensors"):
        f.write_bytes(b"\x00garbage")
    info = scan.inspect(bad)
    assert "unreadable" in info.reason
    with pytest.raises(DlfError, match="checkpoint|cannot be loaded"):
        models.load(scan.RunInfo(bad, "vae", "vae"))


def test_classifier_probabilities_sum_to_one_and_follow_a_shifted_digit(infos):
    task = models.load(infos["mnist-mlp"])
    assert models.load(infos["mnist-mlp"]) is task, "a second request reuses the loaded model"
    image = torch.zeros(28, 28, dtype=torch.uint8)
    image[6:22, 12:16] = 255
    data = base64.b64encode(image.numpy().tobytes()).decode()
    assert torch.equal(models.decode_pixels(data), image)
    p0 = models.classify({"mlp": task}, image)["mlp"]
    p4 = models.classify({"mlp": task}, torch.roll(image, 4, 1))["mlp"]
    assert sum(p0) == pytest.approx(1, abs=1e-5) and p0 != p4
    with torch.no_grad():
        from dlf.experiments._mnist import normalize

        expected = torch.softmax(task.model(normalize(image[None])), -1)[0]
    assert torch.allclose(torch.tensor(p0), expected, atol=1e-6)
    for bad in ("not base64!", base64.b64encode(b"short").decode(), "A" * 10_000_000):
        with pytest.raises(DlfError):
            models.decode_pixels(bad)


def test_streamed_text_is_what_dlf_sample_draws_for_the_same_seed(infos):
    from dlf.experiments.char_rnn import generate

    model, vocab = models.load(infos["char-rnn"])
    streamed = list(models.stream_text(model, vocab, "ALICE:", 60, 0.8, 5, seed=3))
    assert len(streamed) > 2 and streamed[0] == "ALICE:"
    assert "".join(streamed) == generate(model, vocab, "ALICE:", 60, 0.8, 5, 3)
    acts = models.unit_activations(model, vocab, "BOB: the cat", 2)
    assert acts.shape == (12,)
    with pytest.raises(DlfError, match="never saw"):
        list(models.stream_text(model, vocab, "€", 5, 1.0, 0, 0))
    with pytest.raises(DlfError, match="out of range"):
        models.unit_activations(model, vocab, "BOB", 10_000)


def test_vae_decodes_the_sliders_and_interpolates_between_posterior_means(infos):
    model = models.load(infos["vae"])
    a, b = models.vae_decode(model, [0.0, 0.0]), models.vae_decode(model, [2.5, 0.0])
    assert a.shape == (28, 28) and not torch.allclose(a, b)
    x = torch.rand(2, 784)
    line = models.vae_interpolate(model, x[0], x[1], steps=5)
    mu, _ = model.encode(x)
    assert torch.allclose(line[0], torch.sigmoid(model.decode(mu[:1]))[0], atol=1e-6)
    grid, span = models.vae_manifold(model, n=5)
    assert grid.shape == (140, 140) and span > 0


def test_samples_repeat_by_seed_and_a_completion_keeps_the_given_half(infos):
    gan = models.load(infos["gan"])
    assert torch.equal(models.gan_samples(gan, 4, 1), models.gan_samples(gan, 4, 1))
    assert not torch.equal(models.gan_samples(gan, 4, 1), models.gan_samples(gan, 4, 2))
    assert len(models.gan_samples(gan, 10_000, 0)) == models.MAX_IMAGES  # bounded
    pixelcnn = models.load(infos["pixelcnn"])
    x = (torch.rand(784) > 0.5).float()
    done = models.pixelcnn_complete(pixelcnn, x, 0)
    assert torch.equal(done[:392], x[:392]) and set(done.unique().tolist()) <= {0.0, 1.0}


def test_word_map_neighbours_and_analogies(infos):
    from dlf.explore.trained import wordmap

    wv = models.load(infos["word2vec"])
    assert "nearest to 'cat'" in wordmap.neighbours(wv, "cat")
    assert "| " in wordmap.analogy(wv, "cat mat sat")
    with pytest.raises(DlfError, match="three words"):
        wordmap.analogy(wv, "cat mat")
    svg = wordmap.figure(wv, ["cat", "mat", "sat", "zebra"])
    assert 'data-unknown="zebra"' in svg and "cat" in svg
    with pytest.raises(DlfError, match="at most"):
        models.parse_words(" ".join(["w"] * 100))


def test_the_app_builds_with_a_tab_per_kind_found(root):
    pytest.importorskip("gradio")
    from dlf.explore.app import build_app

    demo = build_app(runs=root)
    labels = {getattr(b, "label", None) for b in demo.blocks.values()}
    for title in ("Trained runs", "Handwriting", "Char-RNN", "Word vectors", "VAE", "GAN & PixelCNN", "RL agent"):
        assert title in labels
    assert models.load(scan.inspect(root / "cartpole")).cfg.env.startswith("CartPole")


def test_a_rescan_finds_new_runs_and_inspects_only_changed_folders(root, tmp_path, monkeypatch):
    import shutil

    served = tmp_path / "runs"
    served.mkdir()
    shutil.copytree(root / "vae", served / "vae")
    cat = scan.Catalogue(served)
    assert [i.path.name for i in cat.view("vae")] == ["vae"] and not cat.view("text").now()
    inspected = []
    real = scan.inspect
    monkeypatch.setattr(scan, "inspect", lambda p: inspected.append(p.name) or real(p))
    version = cat.version
    assert cat.rescan() == [] and inspected == [] and cat.version == version  # nothing changed: nothing read
    shutil.copytree(root / "char-rnn", served / "char-rnn")
    new = cat.rescan()
    assert [i.path.name for i in new] == ["char-rnn"] and inspected == ["char-rnn"]
    assert cat.version == version + 1
    assert cat.view("text").labels() == [str(served / "char-rnn")]
    shutil.rmtree(served / "vae" / "checkpoints")  # a changed folder is inspected again
    cat.rescan()
    assert inspected[-1] == "vae" and not cat.view("vae").now()
    assert "no checkpoint yet" in next(i.reason for i in cat.infos if i.path.name == "vae")


def test_preload_loads_the_models_in_the_background(infos):
    models._load.cache_clear()
    models.preload([infos["mnist-mlp"], infos["vae"]]).join(timeout=60)
    hits = models._load.cache_info().hits
    models.load(infos["vae"])
    assert models._load.cache_info().hits == hits + 1, "the first request finds the model loaded"


def _restore(root):
    """The app's load event and what a browser would send it (every widget's initial value)."""
    from types import SimpleNamespace

    from dlf.explore.app import Restore, build_app

    demo = build_app(runs=root)
    restore = next(f.fn for f in demo.fns.values() if isinstance(f.fn, Restore))
    data = {c: (set() if c is restore.drawn else c.value) for c in restore.inputs}

    def call(query: dict) -> dict:
        out = restore({**data, restore.drawn: set()}, SimpleNamespace(query_params=query))
        return {c.elem_id or id(c): u for c, u in zip(restore.outputs, out)}
    return demo, call


def test_a_link_opens_a_run_page_with_its_settings_checked_on_the_server(root):
    pytest.importorskip("gradio")
    demo, call = _restore(root)
    vae = str(root / "vae")
    out = call({"tab": "run-vae", "run": vae, "z1": "1.5", "z2": "99", "a": "-4"})
    assert out["run-tabs"].selected == "run-vae" and out["tabs"].selected == "runs"
    assert out["vae-z1"]["value"] == 1.5 and out["vae-z2"]["value"] == 3.0  # clamped to the slider's range
    assert out["vae-a"]["value"] == 0 and out["vae-run"]["value"] == vae
    assert 'data-z="1.5 3 0' in out["vae-image"], "the page is drawn with the link's values in the same request"
    assert out["neuron-plot"]["__type__"] == "update"  # other pages are not drawn on load
    out = call({"tab": "run-text", "run": "/elsewhere/not-a-run", "prime": "BOB:", "temperature": "0.5"})
    assert out["text-run"]["value"] == str(root / "char-rnn"), "a run that is not one of the page's is ignored"
    assert out["text-prime"]["value"] == "BOB:" and out["text-temperature"]["value"] == 0.5
    assert "track a property" in out["text-units"]
    out = call({"tab": "nowhere"})
    assert out["tabs"] == {"__type__": "update"} and "<svg" in out["neuron-plot"]  # the first page, drawn


def test_a_page_is_drawn_the_first_time_its_tab_opens_and_only_then():
    from dlf.explore.app import first_draw

    calls = []
    fn, inputs, outputs = first_draw("p", (lambda x: calls.append(x) or ("a", "b"), ["in"], ["o1", "o2"]), "drawn")
    assert inputs == ["drawn", "in"] and outputs == ["o1", "o2"]
    seen: set = set()
    assert fn(seen, 1) == ("a", "b") and seen == {"p"}
    assert all(u.get("__type__") == "update" and len(u) == 1 for u in fn(seen, 2)) and calls == [1]


def _page_load(demo, tab: str):
    """The load event of run page `tab` alone, and a call that feeds it a link's query as a browser would."""
    from types import SimpleNamespace

    from dlf.explore.trained.standalone import PageLoad

    load = next(f.fn for f in demo.fns.values() if isinstance(f.fn, PageLoad) and f.fn.tab == tab)
    data = {c: c.value for c in load.inputs}

    def call(query: dict) -> dict:
        out = load(dict(data), SimpleNamespace(query_params=query))
        return {c.elem_id or id(c): u for c, u in zip(load.outputs, out)}
    return call


def test_a_run_page_alone_restores_its_link_checked_on_the_server_and_names_a_broken_run(root):
    pytest.importorskip("gradio")
    from dlf.explore.app import build_app

    demo = build_app(runs=root)
    vae = str(root / "vae")
    out = _page_load(demo, "run-vae")({"run": vae, "z1": "1.5", "z2": "99", "a": "-4", "tab": "run-text"})
    assert out["vae-z1"]["value"] == 1.5 and out["vae-z2"]["value"] == 3.0  # clamped to the slider's range
    assert out["vae-a"]["value"] == 0 and out["vae-run"]["value"] == vae
    assert 'data-z="1.5 3 0' in out["vae-image"], "drawn with the link's values in the load request itself"
    assert "latent dimensions" in out["vae-status"]
    text = _page_load(demo, "run-text")
    out = text({"run": "/elsewhere/not-a-run", "prime": "BOB:", "temperature": "0.5"})
    assert out["text-run"]["value"] == str(root / "char-rnn") and out["text-prime"]["value"] == "BOB:"
    assert "is not one of this page's runs" in out["text-status"] and "track a property" in out["text-units"]
    out = text({"run": str(root / "half")})  # a mnist-cnn folder without a checkpoint: its reason, in one line
    assert "cannot be opened:** half-written: no checkpoint yet" in out["text-status"]
    assert out["text-run"]["value"] == str(root / "char-rnn")
    assert "mnist-mlp" in _page_load(demo, "run-handwriting")({})["hw-runs"]


def test_a_run_page_alone_holds_only_its_own_widgets_and_restoring_fires_no_second_draw(root):
    pytest.importorskip("gradio")
    from dlf.explore.app import build_app
    from dlf.explore.trained.standalone import TABS, PageLoad

    demo = build_app(runs=root)
    config = demo.get_config_file()
    ids = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    for tab in TABS:
        page = config["page"][tab]
        elems = {ids[i] for i in page["components"]}
        assert f"{tab}-link-button" in elems or tab == "run-handwriting"
        assert "neuron-plot" not in elems and len(page["components"]) < 60  # the whole app has about 300
        on_load = [i for i in page["dependencies"] if any(event == "load" for _, event in demo.fns[i].targets)]
        assert len(on_load) == 1 and len(demo.fns[on_load[0]].targets) == 1  # one request when the page opens
        assert len(config["page"][""]["components"]) > 200
    loads = [f for f in demo.fns.values() if isinstance(f.fn, PageLoad)]
    assert sorted(f.page for f in loads) == sorted(TABS)
    set_on_load = {id(c) for f in loads for c in f.fn.outputs}
    for f in demo.fns.values():  # a value a load sets must not fire an event that draws again
        for target, event in f.targets:
            assert not (event == "change" and id(demo.blocks.get(target)) in set_on_load), (f.page, target)


def test_an_old_link_to_a_run_page_is_redirected_to_the_page_alone():
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from dlf.explore.trained.pages import page_link
    from dlf.explore.trained.standalone import RunLinks

    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("the whole app"))],
                    middleware=[Middleware(RunLinks)])
    client = TestClient(app)
    got = client.get("/?tab=run-vae&run=runs%2Fvae&z1=1.5", follow_redirects=False)
    assert got.status_code == 307 and got.headers["location"] == "run-vae?run=runs%2Fvae&z1=1.5"
    assert client.get("/?tab=universality&width=8").text == "the whole app"  # the first half's links stay
    assert client.get("/?tab=run-list").text == "the whole app"
    assert client.get("/?tab=run-evil%2F..").text == "the whole app"
    from dlf.explore.share import Field

    fields = (Field("run", "run", "text", ""), Field("z1", "z1", "float", 0.0, -3, 3))
    values = {"run": "runs/vae", "z1": 1.5}
    for url in ("http://h:1/?tab=run-vae&z1=2", "http://h:1/", "http://h:1/run-vae?run=x#top", "http://h:1/run-vae/"):
        assert page_link(url, "run-vae", fields, values) == "http://h:1/run-vae?run=runs%2Fvae&z1=1.5"
    assert page_link("http://h:1/lab/", "run-vae", fields, values).startswith("http://h:1/lab/run-vae?")
