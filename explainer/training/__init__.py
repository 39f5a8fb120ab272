"""Training, live and offline: the loop, the jobs that run it on a shared server, and what it trains.

- ``loop``: forward, loss, backpropagation, optimizer step; batch samplers; evaluation.
- ``jobs``: a bounded board of training threads, stopped on request, on time or when abandoned.
- ``pretraining``: a fresh GPT learns a corpus while the class watches.
- ``scaling``: sweeps over model sizes and the power law fitted to them.
- ``fine_tuning``: a pretrained model learns a new task beside the same model from scratch.
- ``kept_models``: finished models saved so the other pages can use them.
- ``tokenizer_training``: the tokenizers of the embedded models, learnt from their corpora.
"""
