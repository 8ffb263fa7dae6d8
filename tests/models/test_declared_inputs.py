"""Inputs of a user's own model, filled from what it declares (``models/inputs.py``): sizes from batch_size and
model.dims, values by dtype, one clear error for what cannot be sized or filled."""

from __future__ import annotations

import numpy as np
import pytest

from green_mlflow.models.inputs import declared_inputs, resolve_shapes

MODEL = {"vocab_size": 50, "dims": {"sequence": 7}}
TEXT = [("input_ids", "int64", ["batch", "sequence"]), ("attention_mask", "int64", ["batch", "sequence"])]


def test_symbolic_batch_comes_from_batch_size_and_named_dims_from_model_dims():
    shapes = resolve_shapes([("ids", ["batch", "sequence"]), ("x", [None, 3, "sequence"])], 4, {"sequence": 7})
    assert shapes == {"ids": (4, 7), "x": (4, 3, 7)}


def test_the_batch_dimension_name_means_batch_size_wherever_it_appears():
    assert resolve_shapes([("a", ["N", 2]), ("b", ["N", 3, "N"])], 5, {"N": 9}) == {"a": (5, 2), "b": (5, 3, 5)}


def test_a_symbolic_dimension_without_a_size_is_one_error_listing_every_one_to_give():
    with pytest.raises(ValueError) as err:
        resolve_shapes([("ids", ["batch", "sequence"]), ("img", ["batch", 3, "height", "width"])], 1, {})
    message = str(err.value)
    assert "symbolic dimensions without a size: height (in img), sequence (in ids), width (in img)" in message
    assert "model.dims={height:<size>,sequence:<size>,width:<size>}" in message and "\n" not in message


def test_a_fixed_batch_dimension_refuses_another_batch_size_saying_which_is_allowed():
    assert resolve_shapes([("x", [1, 3])], 1, {}) == {"x": (1, 3)}
    with pytest.raises(ValueError, match=r"fixed first dimension of 1 .*batch_size=8 cannot be measured; allowed: "):
        resolve_shapes([("x", [1, 3])], 8, {})


def test_an_unnamed_dynamic_dimension_after_the_first_cannot_be_sized_and_says_so():
    with pytest.raises(ValueError, match="without a name or a size \\(x axis 1\\)"):
        resolve_shapes([("x", ["batch", None])], 1, {})


def test_token_ids_stay_in_the_vocabulary_masks_and_type_ids_in_0_and_1_floats_in_0_1():
    declared = [*TEXT, ("token_type_ids", "int32", ["batch", "sequence"]), ("features", "float16", ["batch", 4])]
    arrays = declared_inputs(declared, MODEL, 3, seed=0)
    assert arrays["input_ids"].shape == (3, 7) and arrays["input_ids"].dtype == np.int64
    assert 0 <= arrays["input_ids"].min() and arrays["input_ids"].max() < 50 and arrays["input_ids"].max() > 1
    assert set(np.unique(arrays["attention_mask"])) <= {0, 1} and arrays["token_type_ids"].dtype == np.int32
    assert set(np.unique(arrays["token_type_ids"])) <= {0, 1}
    assert arrays["features"].dtype == np.float16 and 0 <= arrays["features"].min() < arrays["features"].max() <= 1


def test_values_depend_on_seed_and_name_not_on_the_order_of_the_inputs():
    a = declared_inputs(TEXT, MODEL, 2, seed=1)
    b = declared_inputs(list(reversed(TEXT)), MODEL, 2, seed=1)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["input_ids"], declared_inputs(TEXT, MODEL, 2, seed=2)["input_ids"])


def test_small_integer_dtypes_stay_in_their_range():
    arrays = declared_inputs(
        [("ids", "uint8", ["batch", 5]), ("flag", "bool", ["batch"])], {"vocab_size": 30522}, 64, 0
    )
    assert arrays["ids"].dtype == np.uint8 and arrays["ids"].max() > 200
    assert arrays["flag"].dtype == np.bool_ and arrays["flag"].shape == (64,)
