import pytest
import torch

from newsrec.models.recommender import NewsRecommender, RecommenderConfig
from newsrec.models.user_encoders import AdditiveAttention, build_user_encoder

D = 16


def unit(*shape):
    return torch.nn.functional.normalize(torch.randn(*shape), dim=-1)


@pytest.mark.parametrize("name", ["mean", "nrms"])
def test_user_encoders_ignore_padding_and_survive_empty_history(name):
    torch.manual_seed(0)
    encoder = build_user_encoder(name, D, heads=2).eval()
    history = unit(3, 4, D)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True], [False] * 4])
    out = encoder(history, mask)
    assert out.shape == (3, D) and torch.isfinite(out).all()
    changed = history.clone()
    changed[0, 2:] = 100.0  # padding slots must not matter
    assert torch.allclose(encoder(changed, mask)[0], out[0], atol=1e-5)


def test_additive_attention_weights_sum_to_one_over_real_items():
    attention = AdditiveAttention(D)
    mask = torch.tensor([[True, True, False]])
    weights = attention.weights(unit(1, 3, D), mask)
    assert torch.isclose(weights.sum(), torch.tensor(1.0)) and weights[0, 2] == 0


def test_untrained_bilinear_model_ranks_by_cosine_plus_popularity():
    torch.manual_seed(0)
    model = NewsRecommender(RecommenderConfig(dim=D, user_encoder="mean", scorer="bilinear", use_popularity=True))
    candidates, history = unit(2, 5, D), unit(2, 3, D)
    mask = torch.ones(2, 3, dtype=torch.bool)
    features = torch.randn(2, 5, 5)
    scores = model(candidates, history, mask, features)
    user = torch.nn.functional.normalize(history.mean(1), dim=-1)
    popularity = model.popularity(features).squeeze(-1)
    assert torch.allclose(scores, 4.0 * torch.einsum("bnd,bd->bn", candidates, user) + popularity, atol=1e-5)
    assert popularity.std() > 0  # the term tells items apart


def test_the_score_is_one_inner_product_of_item_and_query_vectors():
    torch.manual_seed(1)
    model = NewsRecommender(RecommenderConfig(dim=D, user_encoder="nrms", heads=2)).eval()
    with torch.no_grad():
        model.towers[0].bilinear_delta.normal_(std=0.1)
    candidates, history, features = unit(3, 4, D), unit(3, 2, D), torch.randn(3, 4, 5)
    mask = torch.ones(3, 2, dtype=torch.bool)
    items = model.item_vector(candidates, features)
    query = model.query_vector(model.user_vector(history, mask))
    assert items.shape == (3, 4, D + 1) and query.shape == (3, D + 1)
    assert torch.allclose(model(candidates, history, mask, features), torch.einsum("bnd,bd->bn", items, query))


def test_empty_history_uses_the_prior_and_freshness_counts_without_a_log():
    model = NewsRecommender(RecommenderConfig(dim=D))
    with torch.no_grad():
        model.empty_user.copy_(unit(D))
    user = model.user_vector(unit(2, 3, D), torch.tensor([[True, False, False], [False] * 3]))
    assert torch.allclose(user[1], model.empty_user)
    fresh, old = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0]), torch.tensor([0.0, 0.0, 0.0, 5.0, 0.0])  # no log either
    popularity = model.popularity_score(torch.stack([fresh, old])[None])
    assert popularity[0, 0] != popularity[0, 1]  # age alone moves an unlogged item's score


def test_towers_sum_each_encoders_own_scaled_cosine():
    """Encoders side by side ([a, b] / sqrt 2): each slice has its own user encoder, W and scale."""
    torch.manual_seed(2)
    config = RecommenderConfig(dim=D, user_encoder="mean", member_dims=[6, 10], initial_scale=[20.0, 4.0])
    model = NewsRecommender(config).eval()
    a, b = unit(2, 5, 6), unit(2, 5, 10)  # two encoders' readings of the same 5 candidates
    ha, hb = unit(2, 3, 6), unit(2, 3, 10)
    candidates, history = torch.cat([a, b], -1) / 2**0.5, torch.cat([ha, hb], -1) / 2**0.5
    mask, features = torch.ones(2, 3, dtype=torch.bool), torch.zeros(2, 5, 5)
    cosine = lambda n, h: torch.einsum("bnd,bd->bn", n, torch.nn.functional.normalize(h.mean(1), dim=-1))  # noqa: E731
    expected = 20.0 * cosine(a, ha) + 4.0 * cosine(b, hb) + model.popularity_score(features)
    assert torch.allclose(model(candidates, history, mask, features), expected, atol=1e-5)
    items, query = model.item_vector(candidates, features), model.query_vector(model.user_vector(history, mask))
    assert torch.allclose(torch.einsum("bnd,bd->bn", items, query), expected, atol=1e-5)  # still one inner product
    with pytest.raises(ValueError, match="do not split"):
        NewsRecommender(RecommenderConfig(dim=D, member_dims=[6, 6]))


def test_models_saved_before_towers_still_load():
    torch.manual_seed(3)
    model = NewsRecommender(RecommenderConfig(dim=D, heads=2))
    old_names = {k.removeprefix("towers.0."): v for k, v in model.state_dict().items()}
    assert "bilinear_delta" in old_names and "log_scale" in old_names
    fresh = NewsRecommender(RecommenderConfig(dim=D, heads=2))
    fresh.load_state_dict(old_names)
    assert all(torch.equal(v, fresh.state_dict()[k]) for k, v in model.state_dict().items())


def test_the_recommender_settings_are_declared_once_and_carried_whole():
    from newsrec.models.recommender import RecommenderSettings
    from newsrec.training.config import TrainConfig, load_config

    for name, field in RecommenderSettings.model_fields.items():  # TrainConfig's own fields, not copies
        assert repr(TrainConfig.model_fields[name]) == repr(field), name
    chosen = {"user_encoder": "mean", "scorer": "dot", "heads": 2, "use_popularity": False, "initial_scale": [7.0]}
    assert set(chosen) == set(RecommenderSettings.model_fields)  # every setting is checked below
    config = load_config(**chosen).recommender_config(D)
    assert config.model_dump() == {**chosen, "dim": D, "member_dims": None}
    model = NewsRecommender(config)
    assert model.popularity is None and model.towers[0].bilinear_delta is None


def test_a_saved_recommender_config_loads_as_it_was_written():
    """model.pt holds `to_dict()`; older models wrote one number for the scale."""
    config = RecommenderConfig(dim=D, user_encoder="mean", member_dims=[6, 10], initial_scale=[20.0, 4.0])
    assert RecommenderConfig(**config.to_dict()) == config
    old = {"dim": D, "user_encoder": "nrms", "scorer": "bilinear", "heads": 4, "use_popularity": True}
    assert RecommenderConfig(**old, initial_scale=4.0).towers == [(D, 4.0)]
