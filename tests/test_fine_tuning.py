"""Fine-tuning: the set is as documented, the classifier's numbers are true, and training helps."""

import pytest
import torch

from explainer.fine_tuning import (
    LABELS, Example, FineTuningRun, class_probabilities, classifier, encode, load_sentiment, scores_on,
)
from explainer.training_jobs import JobBoard


def test_the_sentiment_set_is_balanced_and_split_as_its_readme_says():
    train_set, test_set = load_sentiment()
    assert len(train_set) == len(test_set) == 160
    for examples in (train_set, test_set):
        assert sum(e.label for e in examples) == 80
    assert not {e.text for e in train_set} & {e.text for e in test_set}


def test_class_probabilities_are_the_score_of_the_last_real_token(gpt):
    model = classifier("fine-tuned", gpt.tokenizer, seed=0).eval()
    texts = ["A charming evening.", "The soup was cold and the service slow, which was a pity."]
    probabilities = class_probabilities(model, gpt.tokenizer, texts)  # padded batch
    for text, row in zip(texts, probabilities):
        ids = torch.tensor([gpt.tokenizer(text)["input_ids"]])  # alone, no padding
        with torch.no_grad():
            last_state = model.transformer(input_ids=ids).last_hidden_state[0, -1]  # (D,)
            independent = torch.softmax(model.score(last_state), dim=-1)
        assert row == pytest.approx(independent.numpy(), abs=1e-5)
    assert probabilities.sum(axis=1) == pytest.approx([1, 1])


def test_encoding_pads_with_end_of_text_and_masks_the_padding(gpt):
    batch = encode(gpt.tokenizer, ["Yes.", "A longer sentence here."])
    assert batch["input_ids"].shape == batch["attention_mask"].shape
    assert batch["attention_mask"][0].sum() < batch["attention_mask"][1].sum()
    assert (batch["input_ids"][0][batch["attention_mask"][0] == 0] == gpt.tokenizer.eos_token_id).all()


def test_the_shown_test_accuracy_and_loss_agree_with_one_sentence_at_a_time(gpt):
    model = classifier("fine-tuned", gpt.tokenizer, seed=3).eval()
    _, test_set = load_sentiment()
    examples = test_set[:12]
    accuracy, loss = scores_on(model, gpt.tokenizer, examples)
    hits, losses = [], []
    with torch.no_grad():
        for example in examples:  # no padding, no batch: the plain model on one sentence
            ids = torch.tensor([gpt.tokenizer(example.text)["input_ids"]])
            logits = model(input_ids=ids).logits  # (1, 2)
            hits.append(int(logits.argmax()) == example.label)
            losses.append(float(torch.nn.functional.cross_entropy(logits, torch.tensor([example.label]))))
    assert accuracy == pytest.approx(sum(hits) / len(hits))
    assert loss == pytest.approx(sum(losses) / len(losses), rel=1e-4)


def test_fine_tuning_beats_the_untrained_classifier_on_a_trivially_separable_set(gpt):
    words = {0: "dreadful", 1: "delightful"}
    examples = [Example(f"The {thing} was {words[label]}.", label)
                for thing in ("ball", "dinner", "walk", "letter", "visit", "party") for label in (0, 1)]
    untrained, _ = scores_on(classifier("fine-tuned", gpt.tokenizer, seed=1337), gpt.tokenizer, examples)
    run = FineTuningRun(gpt.tokenizer, examples, examples, steps=20, batch_size=8, learning_rate=1e-3, eval_every=10)
    job = JobBoard().start("test", run, max_seconds=120)
    job.thread.join(120)
    assert job.state == "finished", job.error
    tuned = run.curves["fine-tuned"]
    assert tuned.accuracies[-1] == 1.0 > untrained
    assert tuned.test_losses[-1] < tuned.test_losses[0]
    assert set(run.curves) == {"fine-tuned", "from scratch"} and LABELS == ("negative", "positive")
