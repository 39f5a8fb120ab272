"""Embeddings and positions: how token ids become vectors, and how the model knows where each token is."""

import streamlit as st

from explainer import embeddings, plots
from explainer.attention import window_bounds
from pages.shared import cached_model, chart, page_analysis, page_header

WINDOW = 40  # tokens shown at a time in the strips and the similarity map
DEFAULT_WORDS = "he, she, him, her, mother, father, sister, brother, one, two, three, four, happy, sad, London, Bath"
FORMULAS = {
    "gpt2": r"x_t = E[\mathrm{id}_t] + P[t]",
    "bert": r"x_t = \mathrm{LayerNorm}\big(E[\mathrm{id}_t] + P[t] + S[0]\big)",
}
NO_TABLE = {
    "rotary": "This model has no position-embedding table; it encodes positions by rotating Q and K "
    "(rotary position embedding) inside every attention layer. Its input to block 0 is the token embedding alone.",
    "other": "This page can read the position table of GPT-2 and BERT models only; it shows this model's token "
    "embeddings and its own input to block 0.",
}

page_header("Embeddings and positions", "How does a token id become a vector of numbers, and how does the model know where each token is?")
analysis = page_analysis()
model = cached_model(analysis.model_name)
parts = embeddings.embed(model, analysis)
scheme = embeddings.position_scheme(model)
table = embeddings.position_table(model)  # (P, D) or None
dimensions = parts.token.shape[1]

model_type = model.model.config.model_type
formula, explanation = st.columns([2, 3])
with formula:
    if model_type in FORMULAS or scheme == "rotary":
        st.latex(FORMULAS.get(model_type, r"x_t = E[\mathrm{id}_t]"))
with explanation:
    st.markdown(
        f"The model keeps a table **E** with one row of **{dimensions} numbers** for every token of its vocabulary: "
        "a token id just picks its row (the *token embedding*). Like every other weight, the table is learned in "
        "training."
        + (" A second learned table **P** has one row per position (the *position embedding*), so the same word "
           "at two places gets two different vectors." if table is not None else "")
        + (" BERT also adds **S[0]**, the vector of the *token type* (sentence A; 0 for a single text), and "
           "normalises the sum with a LayerNorm." if model_type == "bert" else "")
    )
if table is None:
    st.info(NO_TABLE[scheme], icon=":material/rotate_right:")
metrics = st.columns(3)
metrics[0].metric("Numbers per vector (D)", f"{dimensions}")
metrics[1].metric("Token table E", f"{model.model.get_input_embeddings().weight.shape[0]:,} × {dimensions}")
metrics[2].metric("Position table P", "none" if table is None else f"{table.shape[0]:,} × {dimensions}")

st.subheader("Each token's vectors")
tokens = analysis.tokens.display
start = 0
if len(tokens) > WINDOW:
    start = st.slider("First token shown", 0, len(tokens) - WINDOW, 0, help=f"Long texts are shown {WINDOW} tokens at a time.")
    st.info(f"Showing tokens {start}–{start + WINDOW - 1} of {len(tokens)}. Move the slider to see others.")
begin, end = window_bounds(len(tokens), start, WINDOW)
strips = {"token embedding E[id]": parts.token[begin:end]}
if parts.position is not None:
    strips["position embedding P[t]"] = parts.position[begin:end]
strips[f"input to block 0: {parts.block_input_name}"] = parts.block_input[begin:end]
chart(plots.embedding_strips(strips, tokens[begin:end], offset=begin),
      embeddings.vectors_table(strips, tokens[begin:end], offset=begin), "embedding_vectors")
st.caption(
    "One row per token, one column per dimension, and a column is the same dimension in every panel: red is "
    "positive, blue negative (each panel has its own scale). A token that appears twice has the same token row "
    "both times; only its position row tells the two apart."
    + (" BERT normalises the sum, so its last panel is on a different scale." if model_type == "bert" else "")
)

st.subheader("A map of the tokens")
words = st.text_input("Add words from the vocabulary (comma-separated)", DEFAULT_WORDS,
                      help="Each word is placed by its first token, as it appears mid-sentence (after a space).")
token_map = embeddings.token_map(model, analysis, embeddings.word_tokens(model.tokenizer, words))
map_column, note_column = st.columns([3, 1])
with map_column:
    chart(plots.token_map_scatter(token_map.points, token_map.kept), token_map.points, "token_map")
with note_column:
    st.metric("Spread kept by the map", f"{token_map.kept.sum():.0%}",
              help="The share of the vectors' variance along the two directions drawn (PCA).")
    st.caption(
        f"Each point is a row of the token table: {dimensions} numbers squeezed onto the two directions along "
        "which these vectors differ most (principal component analysis). Tokens used in similar ways tend to "
        "land close together. Each distinct token appears once; drag a box on the map to zoom in."
    )
    if token_map.split_words:
        st.caption("Split into several tokens, shown by their first: " + ", ".join(token_map.split_words))

st.subheader("Which tokens are alike")
picker, meaning = st.columns([1, 1])
compared = picker.radio("Vectors compared", ["token embedding", "input to block 0"], horizontal=True,
                        help="The input to block 0 includes the position, so a repeated token is no longer identical.")
with meaning:
    st.latex(r"\cos(a, b) = \frac{a \cdot b}{\lVert a\rVert\,\lVert b\rVert}")
    st.caption("1: the two vectors point the same way; 0: unrelated (at right angles); −1: opposite.")
vectors = (parts.token if compared == "token embedding" else parts.block_input)[begin:end]
similarity = embeddings.cosine_similarity(vectors)
chart(plots.similarity_heatmap(similarity, tokens[begin:end], offset=begin),
      embeddings.similarity_table(similarity, tokens[begin:end], offset=begin), "cosine_similarity")

st.subheader("Positions: a formula, or learned")
st.latex(r"PE_{(pos,\,2i)} = \sin\!\left(\frac{pos}{10000^{2i/d}}\right) \qquad PE_{(pos,\,2i+1)} = \cos\!\left(\frac{pos}{10000^{2i/d}}\right)")
limit = table.shape[0] if table is not None else 256
st.caption(f"pos is the position, 2i and 2i+1 a pair of dimensions, d the number of dimensions (here {dimensions}).")
count = st.slider("Positions shown", 8, min(256, limit), min(64, limit))
sinusoidal = embeddings.sinusoidal_encoding(count, dimensions)
learned = table[:count] if table is not None else None
position_parts = {"sinusoidal": sinusoidal} | ({"learned": learned} if learned is not None else {})
chart(plots.position_heatmaps(sinusoidal, learned), embeddings.vectors_table(position_parts), "position_embeddings")
st.markdown(
    "The original Transformer (2017) **computes** its position vectors with this formula: each pair of dimensions "
    "is a sine and cosine wave, fast on the left, slow on the right, so every position gets its own pattern and "
    "any position, however far, can be computed. GPT-2 and BERT instead **learn** a table of position vectors "
    "during training, so they have exactly as many as their context length"
    + (f" (here {table.shape[0]:,}): a position beyond it has no vector at all." if table is not None else ".")
)
if table is None:
    st.caption("Only the sinusoidal encoding is drawn: this model has no learned position table to set beside it.")
