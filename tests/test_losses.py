"""The losses: rare classes weigh more, and the weighted loss is plain BCE when every weight is 1."""

import keras
import numpy as np
import pytest

from yerbnet.losses import WeightedBinaryCrossentropy, positive_weights


def test_positive_weights_favour_rare_classes_within_the_cap():
    assert positive_weights([50, 10, 0], train_images=100, cap=5.0) == [1.0, 5.0, 5.0]
    assert positive_weights([20], train_images=100, cap=10.0) == [4.0]


def test_weighted_bce_equals_bce_with_unit_weights_and_grows_with_the_weight():
    y_true = np.array([[1.0, 0.0]])
    y_pred = np.array([[0.3, 0.2]])
    plain = float(keras.losses.BinaryCrossentropy()(y_true, y_pred))
    assert float(WeightedBinaryCrossentropy([1.0, 1.0])(y_true, y_pred)) == pytest.approx(plain, rel=1e-5)
    assert float(WeightedBinaryCrossentropy([3.0, 1.0])(y_true, y_pred)) > plain
