"""The embeddings page: every vector is a row of the model's own tables, and their sum is what block 0 reads."""

import math

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from explainer import embeddings
from explainer.analysis import analyze
from tests.app_harness import APP, metric, open_page, open_with_model, tiny_llama

PROMPT = "It is a truth universally acknowledged, that a truth"


@pytest.fixture(scope="module")
def llama(gpt):
    return tiny_llama(gpt.tokenizer)


def test_gpt_input_is_token_plus_position_rows(gpt):
    analysis = analyze(gpt, PROMPT)
    parts = embeddings.embed(gpt, analysis)
    ids, T = analysis.tokens.ids, len(analysis.tokens)
    wte, wpe = gpt.model.transformer.wte.weight.detach(), gpt.model.transformer.wpe.weight.detach()
    np.testing.assert_allclose(parts.token, wte[ids].numpy(), atol=1e-6)
    np.testing.assert_allclose(parts.position, wpe[:T].numpy(), atol=1e-6)
    np.testing.assert_allclose(parts.block_input, analysis.hidden_states[0], atol=1e-5)
    np.testing.assert_allclose(wte[ids].numpy() + wpe[:T].numpy(), analysis.hidden_states[0], atol=1e-5)


def test_bert_input_is_the_layernormed_sum_with_token_type(bert):
    analysis = analyze(bert, "She was the [MASK] of the family.")
    parts = embeddings.embed(bert, analysis)
    tables = bert.model.bert.embeddings
    ids, T = analysis.tokens.ids, len(analysis.tokens)
    word, position = tables.word_embeddings.weight.detach()[ids], tables.position_embeddings.weight.detach()[:T]
    summed = word + position + tables.token_type_embeddings.weight.detach()[0]  # (T, D), one sentence: type 0
    norm = tables.LayerNorm
    expected = torch.nn.functional.layer_norm(summed, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
    np.testing.assert_allclose(parts.token, word.numpy(), atol=1e-6)
    np.testing.assert_allclose(parts.position, position.numpy(), atol=1e-6)
    np.testing.assert_allclose(expected.detach().numpy(), analysis.hidden_states[0], atol=1e-5)
    np.testing.assert_allclose(parts.block_input, analysis.hidden_states[0], atol=1e-5)


def test_position_tables_are_the_models(gpt, bert):
    np.testing.assert_array_equal(embeddings.position_table(gpt), gpt.model.transformer.wpe.weight.detach().numpy())
    bert_table = bert.model.bert.embeddings.position_embeddings.weight.detach().numpy()
    np.testing.assert_array_equal(embeddings.position_table(bert), bert_table)
    assert embeddings.position_table(gpt).shape[0] == gpt.context_length
    assert gpt.architecture.position_scheme == bert.architecture.position_scheme == "learned"


def test_a_rotary_model_has_no_position_table(llama):
    analysis = analyze(llama, PROMPT)
    parts = embeddings.embed(llama, analysis)
    assert llama.architecture.position_scheme == "rotary"
    assert embeddings.position_table(llama) is None
    assert parts.position is None
    token_rows = llama.model.model.embed_tokens.weight.detach()[analysis.tokens.ids].numpy()
    np.testing.assert_allclose(parts.token, token_rows, atol=1e-6)
    np.testing.assert_allclose(parts.block_input, token_rows, atol=1e-6)  # nothing is added for the position


@pytest.mark.parametrize("positions,dimensions", [(12, 8), (7, 5)])
def test_sinusoidal_encoding_follows_the_formula(positions, dimensions):
    encoding = embeddings.sinusoidal_encoding(positions, dimensions)
    assert encoding.shape == (positions, dimensions)
    for pos in range(positions):
        for d in range(dimensions):
            angle = pos / 10000 ** ((d - d % 2) / dimensions)
            assert encoding[pos, d] == pytest.approx(math.sin(angle) if d % 2 == 0 else math.cos(angle), abs=1e-12)


def test_cosine_similarity_matches_torch(gpt):
    vectors = embeddings.embed(gpt, analyze(gpt, PROMPT)).block_input
    expected = torch.nn.functional.cosine_similarity(torch.tensor(vectors)[:, None], torch.tensor(vectors)[None], dim=-1)
    np.testing.assert_allclose(embeddings.cosine_similarity(vectors), expected.numpy(), atol=1e-5)


def eigen_pca(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PCA the other way: eigenvectors of the covariance matrix. Returns (N, 2) coordinates and (2,) variance shares."""
    centred = vectors.astype(np.float64) - vectors.mean(axis=0)
    values, vectors_ = np.linalg.eigh(np.cov(centred, rowvar=False))  # ascending
    order = np.argsort(values)[::-1][:2]
    return centred @ vectors_[:, order], values[order] / values.sum()


def test_pca_matches_the_covariance_eigenvectors(gpt):
    rows = gpt.model.transformer.wte.weight.detach().numpy()[100:130]  # (30, D)
    coordinates, kept = embeddings.pca_2d(rows)
    expected, expected_kept = eigen_pca(rows)
    np.testing.assert_allclose(np.abs(coordinates), np.abs(expected), atol=1e-6)  # each axis is defined up to its sign
    np.testing.assert_allclose(kept, expected_kept, atol=1e-8)


def test_pca_of_one_or_two_points_does_not_fail():
    coordinates, kept = embeddings.pca_2d(np.ones((1, 4), dtype=np.float32))
    assert coordinates.shape == (1, 2) and not coordinates.any() and not kept.any()
    coordinates, kept = embeddings.pca_2d(np.array([[0.0, 0.0], [3.0, 4.0]]))
    assert abs(coordinates[1, 0] - coordinates[0, 0]) == pytest.approx(5.0) and kept[0] == pytest.approx(1.0)


def test_token_map_places_the_texts_tokens_and_the_words_first_tokens(gpt):
    analysis = analyze(gpt, PROMPT)
    words = embeddings.word_tokens(gpt.tokenizer, "she, , Monday,truth")
    assert [w.word for w in words] == ["she", "Monday", "truth"]
    assert [w.token_id for w in words] == [gpt.tokenizer(" " + w)["input_ids"][0] for w in ("she", "Monday", "truth")]
    result = embeddings.token_map(gpt, analysis, words)
    points = result.points
    distinct = list(dict.fromkeys(analysis.tokens.ids))
    assert list(points["id"][: len(distinct)]) == distinct  # the text's tokens first, each once
    assert set(points["group"][len(distinct):]) <= {"your words"}
    assert points["id"].is_unique and "Monday" in result.split_words
    expected, expected_kept = eigen_pca(gpt.model.transformer.wte.weight.detach().numpy()[list(points["id"])])
    np.testing.assert_allclose(np.abs(points[["x", "y"]].to_numpy()), np.abs(expected), atol=1e-5)
    np.testing.assert_allclose(result.kept, expected_kept, atol=1e-6)


def test_vectors_table_holds_every_number(gpt):
    analysis = analyze(gpt, PROMPT)
    parts, labels = embeddings.embed(gpt, analysis), analysis.tokens.display
    table = embeddings.vectors_table({"token": parts.token, "sum": parts.block_input}, labels)
    D = gpt.model.config.n_embd
    assert len(table) == 2 * len(labels) and table.shape[1] == 3 + D
    np.testing.assert_array_equal(table[table["part"] == "sum"].filter(regex=r"^d\d+$").to_numpy(), parts.block_input)


# ---------------------------------------------------------------- the page


def expected_spread(gpt, words: str) -> str:
    """The map's spread, from the covariance eigenvalues of the token-table rows of the text and the words."""
    ids = list(dict.fromkeys(analyze(gpt, PROMPT).tokens.ids))
    ids += [i for i in (w.token_id for w in embeddings.word_tokens(gpt.tokenizer, words)) if i not in ids]
    _, kept = eigen_pca(gpt.model.transformer.wte.weight.detach().numpy()[ids])
    return f"{kept.sum():.0%}"


@pytest.mark.slow
def test_page_shows_the_models_sizes_and_the_maps_spread(gpt):
    app = open_page("pages/embeddings.py", prompt=PROMPT)
    assert not app.exception and not app.error
    D = gpt.model.config.n_embd
    assert metric(app, "Numbers per vector (D)") == str(D)
    assert metric(app, "Position table P") == f"{gpt.model.config.n_positions:,} × {D}"
    words = app.text_input[0]
    assert words.label.startswith("Add words") and "she" in words.value
    assert metric(app, "Spread kept by the map") == expected_spread(gpt, words.value)
    assert app.radio[0].options == ["token embedding", "input to block 0"]
    assert [s.label for s in app.slider] == ["Positions shown"]
    assert not app.info  # GPT-2 has a position table


@pytest.mark.slow
def test_new_words_redraw_the_map(gpt):
    app = open_page("pages/embeddings.py", prompt=PROMPT)
    app.text_input[0].set_value("Monday, Bath").run()
    assert not app.exception
    assert metric(app, "Spread kept by the map") == expected_spread(gpt, "Monday, Bath")
    assert any("shown by their first: Monday" in c.value for c in app.caption)
    app.radio[0].set_value("input to block 0").run()
    assert not app.exception


@pytest.mark.slow
def test_page_on_the_masked_model(bert):
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    app.sidebar.selectbox(key="model_choice").set_value("tiny-bert-austen")
    app.sidebar.text_area(key="prompt").set_value("She was the [MASK] of the family.")
    app.switch_page("pages/embeddings.py").run()
    assert not app.exception and not app.error
    D = bert.model.config.hidden_size
    assert metric(app, "Position table P") == f"{bert.model.config.max_position_embeddings:,} × {D}"
    assert any("LayerNorm" in latex.value for latex in app.latex)


@pytest.mark.slow
def test_a_long_text_is_shown_forty_tokens_at_a_time():
    app = open_page("pages/embeddings.py", prompt="It was a fine day in the country. " * 12)
    assert not app.exception
    assert app.slider[0].label == "First token shown"
    assert any("Showing tokens 0–39" in i.value for i in app.info)


@pytest.mark.slow
@pytest.mark.parametrize("blank", ["", "   \n"])
def test_empty_prompt_gives_a_friendly_hint(blank):
    app = open_page("pages/embeddings.py", prompt=blank)
    assert not app.exception and not app.error
    assert any("Type some text" in info.value for info in app.info)


@pytest.mark.slow
def test_a_rotary_model_gets_a_message_instead_of_a_position_table(monkeypatch, llama):
    app = open_with_model(monkeypatch, llama, "pages/embeddings.py")
    assert not app.exception and not app.error
    assert any("no position-embedding table" in i.value and "rotating Q and K" in i.value for i in app.info)
    assert metric(app, "Position table P") == "none"
    assert metric(app, "Numbers per vector (D)") == "16"
