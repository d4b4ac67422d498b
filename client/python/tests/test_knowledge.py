"""TrainModels and Categorize through the client, on a small generated catalog in both
modes: two roots with two leaves each, product titles made of their leaf's words."""
import random

import grpc
import pytest

from kgclient import KgError, KgItemError, edge, entity, key_text

LEAVES = {11: "shirt collar cotton sleeve", 12: "dress skirt hem gown",
          21: "phone screen battery charger", 22: "laptop keyboard trackpad notebook"}
ROOTS = {1: ("Clothing", (11, 12)), 2: ("Electronics", (21, 22))}
PRODUCTS = 240


def title(rng, leaf):
    words = LEAVES[leaf].split()
    return " ".join(rng.sample(words, 3) + [f"noise{rng.randrange(30)}"])


@pytest.fixture(scope="module")
def catalog(cluster):
    """Writes the catalog; every 10th product has no category (to be categorized)."""
    from kgclient import KgClient
    rng = random.Random(5)
    records, leaf_of = [], {}
    for root, (name, leaves) in ROOTS.items():
        records.append(entity(f"CATEGORY:{root}", name))
        for leaf in leaves:
            records.append(entity(f"CATEGORY:{leaf}", f"{name} leaf {leaf}"))
            records.append(edge(f"CATEGORY:{leaf}", "SUBCATEGORY_OF", f"CATEGORY:{root}"))
    leaves = sorted(LEAVES)
    for p in range(1, PRODUCTS + 1):
        leaf = leaves[p % len(leaves)]
        leaf_of[p] = leaf
        records.append(entity(f"PRODUCT:{p}", title(rng, leaf)))
        if p % 10:
            records.append(edge(f"PRODUCT:{p}", "IN_CATEGORY", f"CATEGORY:{leaf}"))
    with KgClient(cluster.address) as client:
        resp = client.import_records(records)
        assert resp.records_rejected == 0
    return leaf_of


def test_train_then_categorize_texts_and_keys(kg, catalog):
    with pytest.raises(KgError) as e:  # before training
        kg.categorize(["cotton shirt"])
    assert e.value.code == grpc.StatusCode.FAILED_PRECONDITION

    stages = []
    done = kg.train_models(on_progress=stages.append, seed=3)
    assert done.done and done.model_version
    assert len(stages) >= 2 and stages[-1] is not stages[0]
    assert done.labelled_products == PRODUCTS - PRODUCTS // 10

    rng = random.Random(9)
    texts = [title(rng, leaf) for leaf in sorted(LEAVES)]
    unlabelled = [p for p in catalog if p % 10 == 0]
    resp = kg.categorize(texts, [f"PRODUCT:{p}" for p in unlabelled], top_k=2)
    assert resp.model_version == done.model_version
    assert len(resp.results) == len(texts) + len(unlabelled)
    top = [key_text(r.predictions[0].category) for r in resp.results]
    assert top[:4] == [f"CATEGORY:{leaf}" for leaf in sorted(LEAVES)]
    right = sum(t == f"CATEGORY:{catalog[p]}" for t, p in zip(top[4:], unlabelled))
    assert right >= 0.9 * len(unlabelled)
    # Paths run from the root down; confidences are probabilities, best first.
    first = resp.results[0].predictions
    assert list(first[0].path)[0] == "Clothing"
    assert 0 <= first[1].confidence <= first[0].confidence <= 1 and first[0].confidence > 0.5

    with pytest.raises(KgItemError) as e:  # an unknown key fails alone
        kg.categorize(["cotton shirt"], ["PRODUCT:999999"])
    assert [(i, code) for i, code, _ in e.value.failures] == [(1, grpc.StatusCode.NOT_FOUND)]
    assert len(e.value.response.results[0].predictions) == 3
