"""skelnb.evaluate.knn after a brief real pretraining (a long real-data run: the session's `briefly_pretrained`,
shared with the linear and trainer checks); the units' checks are in nbs/61_evaluate.knn.ipynb."""

from skelnb.evaluate.knn import evaluate_knn


def test_pretraining_beats_random_init(briefly_pretrained):
    "Real NW-UCLA cross-view: the session's briefly MoCo-pretrained ST-GCN beats its initialisation under 1-NN."
    brief = briefly_pretrained  # conftest.py: one pretraining for the kNN, linear and trainer checks
    random_acc = evaluate_knn(brief.initial, brief.train, brief.test).metrics["top1"]
    result = evaluate_knn(brief.run, brief.train, brief.test)
    assert result.card["encoder"]["pretrain_epoch"] == brief.settings["epochs"]
    assert result.metrics["top1"] > random_acc + 5, (result.metrics["top1"], random_acc)
