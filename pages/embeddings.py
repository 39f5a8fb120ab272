"""Embeddings and positions: how token ids become vectors, and how the model knows where each token is."""

import streamlit as st

from explainer import embeddings, plots
from explainer.i18n import N_, _, labelled
from pages.shared import cached_model, chart, page_analysis, page_header, token_window

WINDOW = 40  # tokens shown at a time in the strips and the similarity map
DEFAULT_WORDS = {  # the map's extra words; the embedded models read English, so Chinese pages suggest English too
    "en": "he, she, him, her, mother, father, sister, brother, one, two, three, four, happy, sad, London, Bath",
}
NO_TABLE = {
    "rotary": N_("This model has no position-embedding table; it encodes positions by rotating Q and K "
                 "(rotary position embedding) inside every attention layer. Its input to block 0 is the token embedding alone."),
    "other": N_("This page can read the position table of GPT-2 and BERT models only; it shows this model's token "
                "embeddings and its own input to block 0."),
}
COMPARED_VECTORS = (N_("token embedding"), N_("input to block 0"))  # the radio's values, shown with _()

page_header(_("Embeddings and positions"),
            _("How does a token id become a vector of numbers, and how does the model know where each token is?"))
analysis = page_analysis()
model = cached_model(analysis.model_name)
parts = embeddings.embed(model, analysis)
architecture = model.architecture
scheme = architecture.position_scheme
table = embeddings.position_table(model)  # (P, D) or None
dimensions = parts.token.shape[1]

formula, explanation = st.columns([2, 3])
with formula:
    if architecture.input_formula:
        st.latex(architecture.input_formula)
with explanation:
    paragraphs = [_(
        "The model keeps a table **E** with one row of **{n} numbers** for every token of its vocabulary: "
        "a token id just picks its row (the *token embedding*). Like every other weight, the table is learned in "
        "training."
    ).format(n=dimensions)]
    if table is not None:
        paragraphs.append(_("A second learned table **P** has one row per position (the *position embedding*), so the "
                            "same word at two places gets two different vectors."))
    if architecture.input_note:
        paragraphs.append(_(architecture.input_note))
    st.markdown("\n\n".join(paragraphs))
if table is None:
    st.info(_(NO_TABLE[scheme]), icon=":material/rotate_right:")
metrics = st.columns(3)
metrics[0].metric(_("Numbers per vector (D)"), f"{dimensions}")
metrics[1].metric(_("Token table E"), f"{architecture.token_table(model.model).weight.shape[0]:,} × {dimensions}")
metrics[2].metric(_("Position table P"), _("none") if table is None else f"{table.shape[0]:,} × {dimensions}")

st.subheader(_("Each token's vectors"))
tokens = analysis.tokens.display
begin, end = token_window(len(tokens), WINDOW)
strips = {"token embedding E[id]": parts.token[begin:end]}  # English names: the CSV's "part" column
shown_names = [_("token embedding E[id]")]
if parts.position is not None:
    strips["position embedding P[t]"] = parts.position[begin:end]
    shown_names.append(_("position embedding P[t]"))
strips[f"input to block 0: {parts.block_input_name}"] = parts.block_input[begin:end]
shown_names.append(_("input to block 0: {how}").format(how=_(parts.block_input_name)))
chart(plots.embedding_strips(dict(zip(shown_names, strips.values())), tokens[begin:end], offset=begin),
      embeddings.vectors_table(strips, tokens[begin:end], offset=begin), "embedding_vectors",
      _("Each token's vectors"))
st.caption(
    _("One row per token, one column per dimension, and a column is the same dimension in every panel: red is "
      "positive, blue negative (each panel has its own scale). A token that appears twice has the same token row "
      "both times; only its position row tells the two apart. BERT normalises the sum, so its last panel is on a "
      "different scale.") if architecture.input_normalised else
    _("One row per token, one column per dimension, and a column is the same dimension in every panel: red is "
      "positive, blue negative (each panel has its own scale). A token that appears twice has the same token row "
      "both times; only its position row tells the two apart.")
)

st.subheader(_("A map of the tokens"))
words = st.text_input(_("Add words from the vocabulary (comma-separated)"), DEFAULT_WORDS["en"],
                      help=_("Each word is placed by its first token, as it appears mid-sentence (after a space)."))
token_map = embeddings.token_map(model, analysis, embeddings.word_tokens(model.tokenizer, words))
map_column, note_column = st.columns([3, 1])
with map_column:
    chart(plots.token_map_scatter(token_map.points, token_map.kept), token_map.points, "token_map", _("A map of the tokens"))
with note_column:
    st.metric(_("Spread kept by the map"), f"{token_map.kept.sum():.0%}",
              help=_("The share of the vectors' variance along the two directions drawn (PCA)."))
    st.caption(_(
        "Each point is a row of the token table: {n} numbers squeezed onto the two directions along "
        "which these vectors differ most (principal component analysis). Tokens used in similar ways tend to "
        "land close together. Each distinct token appears once; drag a box on the map to zoom in."
    ).format(n=dimensions))
    if token_map.split_words:
        st.caption(_("Split into several tokens, shown by their first: {words}").format(
            words=", ".join(token_map.split_words)))

st.subheader(_("Which tokens are alike"))
picker, meaning = st.columns([1, 1])
compared = picker.radio(_("Vectors compared"), COMPARED_VECTORS, format_func=labelled(COMPARED_VECTORS, _),
                        horizontal=True,
                        help=_("The input to block 0 includes the position, so a repeated token is no longer identical."))
with meaning:
    st.latex(r"\cos(a, b) = \frac{a \cdot b}{\lVert a\rVert\,\lVert b\rVert}")
    st.caption(_("1: the two vectors point the same way; 0: unrelated (at right angles); −1: opposite."))
vectors = (parts.token if compared == COMPARED_VECTORS[0] else parts.block_input)[begin:end]
similarity = embeddings.cosine_similarity(vectors)
chart(plots.similarity_heatmap(similarity, tokens[begin:end], offset=begin),
      embeddings.similarity_table(similarity, tokens[begin:end], offset=begin), "cosine_similarity",
      _("Which tokens are alike"))

st.subheader(_("Positions: a formula, or learned"))
st.latex(r"PE_{(pos,\,2i)} = \sin\!\left(\frac{pos}{10000^{2i/d}}\right) \qquad "
         r"PE_{(pos,\,2i+1)} = \cos\!\left(\frac{pos}{10000^{2i/d}}\right)")
limit = table.shape[0] if table is not None else 256
st.caption(_("pos is the position, 2i and 2i+1 a pair of dimensions, d the number of dimensions (here {n}).").format(
    n=dimensions))
count = st.slider(_("Positions shown"), 8, min(256, limit), min(64, limit))
sinusoidal = embeddings.sinusoidal_encoding(count, dimensions)
learned = table[:count] if table is not None else None
position_parts = {"sinusoidal": sinusoidal} | ({"learned": learned} if learned is not None else {})
chart(plots.position_heatmaps(sinusoidal, learned), embeddings.vectors_table(position_parts), "position_embeddings",
      _("Positions: a formula, or learned"))
st.markdown(
    _("The original Transformer (2017) **computes** its position vectors with this formula: each pair of dimensions "
      "is a sine and cosine wave, fast on the left, slow on the right, so every position gets its own pattern and "
      "any position, however far, can be computed. GPT-2 and BERT instead **learn** a table of position vectors "
      "during training, so they have exactly as many as their context length (here {n:,}): a position beyond it "
      "has no vector at all.").format(n=table.shape[0]) if table is not None else
    _("The original Transformer (2017) **computes** its position vectors with this formula: each pair of dimensions "
      "is a sine and cosine wave, fast on the left, slow on the right, so every position gets its own pattern and "
      "any position, however far, can be computed. GPT-2 and BERT instead **learn** a table of position vectors "
      "during training, so they have exactly as many as their context length.")
)
if table is None:
    st.caption(_("Only the sinusoidal encoding is drawn: this model has no learned position table to set beside it."))
