"""The enrolment gallery: nearest identities, extension, storage, clear errors."""

import pytest
import torch
from sklearn.neighbors import NearestNeighbors

from cnnlab.errors import CheckpointError, DataError
from cnnlab.runs.gallery import Gallery, load_gallery, save_gallery


def random_gallery(seed=0, rows=40, dim=6, people=7):
    g = torch.Generator().manual_seed(seed)
    owners = torch.randint(0, people, (rows,), generator=g)
    return Gallery(torch.randn(rows, dim, generator=g), [f"p{i}" for i in owners.tolist()], "abc")


def test_nearest_identity_is_the_owner_of_the_nearest_row():
    gallery = random_gallery()
    queries = torch.randn(25, 6, generator=torch.Generator().manual_seed(1))
    distances, rows = NearestNeighbors(n_neighbors=1).fit(gallery.embeddings).kneighbors(queries)
    ranked = gallery.nearest(queries, k=3)
    for answer, row, distance in zip(ranked, rows[:, 0], distances[:, 0], strict=True):
        assert answer[0][0] == gallery.identities[row]
        assert answer[0][1] == pytest.approx(distance, rel=1e-5)
        assert [d for _, d in answer] == sorted(d for _, d in answer)
        assert len({name for name, _ in answer}) == 3


def test_second_identity_is_the_nearest_row_of_another_identity():
    gallery = Gallery(torch.tensor([[0.0], [1.0], [3.0], [10.0]]), ["a", "a", "b", "c"], "s")
    assert gallery.nearest(torch.tensor([[2.6]]), k=5) == [
        [("b", pytest.approx(0.4)), ("a", pytest.approx(1.6)), ("c", pytest.approx(7.4))]
    ]


def test_enrolling_extends_without_touching_the_existing_rows(tmp_path):
    gallery = random_gallery()
    grown = gallery.add(torch.tensor([[1.0] * 6, [2.0] * 6]), ["zoe", "p1"])
    assert torch.equal(grown.embeddings[:40], gallery.embeddings)
    assert grown.names[-1] == "zoe" and grown.names.count("p1") == 1
    assert grown.nearest(torch.ones(1, 6))[0][0] == ("zoe", 0.0)
    save_gallery(tmp_path, grown)
    loaded = load_gallery(tmp_path, "abc")
    assert torch.equal(loaded.embeddings, grown.embeddings)
    assert loaded.identities == grown.identities


def test_empty_or_missing_gallery_and_other_weights_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="gallery is empty"):
        Gallery(torch.empty(0, 4), [], "s").nearest(torch.zeros(1, 4))
    with pytest.raises(DataError, match="cnnlab enroll"):
        load_gallery(tmp_path)
    save_gallery(tmp_path, random_gallery())
    with pytest.raises(CheckpointError, match="other weights"):
        load_gallery(tmp_path, "def")
    with pytest.raises(DataError, match="6-d embeddings, not 3-d"):
        random_gallery().add(torch.zeros(1, 3), ["x"])
