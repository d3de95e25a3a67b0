import keras
import numpy as np
import pytest

from yerbnet.classtree.decisions import Hierarchy
from yerbnet.errors import UserError
from yerbnet.models import BACKBONES, CaffeStyle, build_model
from yerbnet.params import ARCHITECTURES, TrainParams

TINY_CNN = TrainParams(architecture="simple_cnn", cnn_blocks=2, cnn_filters=4)


def test_params_and_the_registry_name_the_same_architectures():
    assert set(ARCHITECTURES) == set(BACKBONES)


@pytest.mark.parametrize("head", ["gap", "gap_dense", "attention"])
def test_a_model_maps_raw_pixels_to_one_probability_per_class(head):
    model = build_model(
        TrainParams(architecture="simple_cnn", head=head, cnn_blocks=2, cnn_filters=4, dense_units=8), 32, 5
    )
    scores = model.predict(np.full((2, 32, 32, 3), 255.0, dtype=np.float32), verbose=0)
    assert scores.shape == (2, 5)
    assert ((scores > 0) & (scores < 1)).all()
    assert ("dense" in [layer.name for layer in model.layers]) == (head == "gap_dense")


def test_local_weights_load_by_path_and_a_missing_file_is_named(tmp_path):
    cfg = TrainParams(architecture="mobilenet_v2", alpha=0.35)
    donor = keras.applications.MobileNetV2(include_top=False, weights=None, alpha=0.35, input_shape=(32, 32, 3))
    path = tmp_path / "mobilenet.weights.h5"
    donor.save_weights(path)
    model = build_model(TrainParams(**{**cfg.__dict__, "weights": str(path)}), 32, 3)
    loaded = model.get_layer(donor.name).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(loaded, donor.get_weights()))
    with pytest.raises(UserError, match="missing.weights.h5'.*file not found"):
        build_model(TrainParams(**{**cfg.__dict__, "weights": str(tmp_path / "missing.weights.h5")}), 32, 3)


@pytest.mark.parametrize(
    ("architecture", "factory"),
    [
        ("efficientnetv2_b0", keras.applications.EfficientNetV2B0),
        ("convnext_tiny", keras.applications.ConvNeXtTiny),
        ("mobilenet_v3_small", keras.applications.MobileNetV3Small),
        ("mobilenet_v3_large", keras.applications.MobileNetV3Large),
    ],
)
def test_modern_backbones_load_local_weights_files(tmp_path, architecture, factory):
    """What `train.weights: path` does with the file a connected user downloaded (here: one this test saves)."""
    donor = factory(include_top=False, weights=None, input_shape=(32, 32, 3))
    donor.save_weights(tmp_path / "donor.weights.h5")
    model = build_model(
        TrainParams(architecture=architecture, head="gap", weights=str(tmp_path / "donor.weights.h5")), 32, 3
    )
    loaded = model.get_layer(donor.name).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(loaded, donor.get_weights(), strict=True))


def test_resnet50_gets_its_pixels_the_way_keras_preprocesses_them(tmp_path):
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    model = build_model(TrainParams(architecture="resnet50", head="gap"), 32, 3)
    expected = keras.applications.resnet50.preprocess_input(pixels.copy())
    np.testing.assert_allclose(model.get_layer("caffe_style")(pixels), expected, rtol=1e-6)
    tiny = keras.Sequential([keras.Input((32, 32, 3)), CaffeStyle()])
    tiny.save(tmp_path / "tiny.keras")  # a saved model.keras with this layer loads back
    np.testing.assert_allclose(
        keras.models.load_model(tmp_path / "tiny.keras").predict(pixels, verbose=0), expected, rtol=1e-6
    )


def test_simple_cnn_has_no_imagenet_weights():
    with pytest.raises(UserError, match="'imagenet' does not exist for simple_cnn"):
        build_model(TrainParams(architecture="simple_cnn", weights="imagenet"), 32, 3)


def test_a_stride_4_stem_at_twice_the_resolution_gives_the_feature_map_of_stride_2():
    def pooled_input(size: int, stride: int) -> tuple:
        model = build_model(TrainParams(cnn_blocks=2, cnn_filters=4, cnn_stem_stride=stride), size, 3)
        return model.get_layer("pool").input.shape

    assert pooled_input(64, 4) == pooled_input(32, 2)


def test_a_stride_4_stem_is_the_stride_2_stem_then_a_strided_3x3_conv():
    def strided_convs(stride: int) -> list[tuple]:
        model = build_model(TrainParams(cnn_blocks=1, cnn_filters=4, cnn_stem_stride=stride), 64, 3)
        convs = [layer for layer in model.get_layer("simple_cnn").layers if isinstance(layer, keras.layers.Conv2D)]
        return [(conv.kernel_size, conv.strides) for conv in convs if conv.strides != (1, 1)]

    assert strided_convs(2) == [((5, 5), (2, 2))]
    assert strided_convs(3) == [((7, 7), (3, 3))]
    assert strided_convs(4) == [((5, 5), (2, 2)), ((3, 3), (2, 2))]


def test_fine_convs_add_3x3_convs_at_the_stems_resolution_before_the_first_pooling():
    def conv_shapes(fine_convs: int) -> list[tuple]:
        cfg = TrainParams(cnn_blocks=1, cnn_filters=4, cnn_fine_convs=fine_convs)
        backbone = build_model(cfg, 32, 3).get_layer("simple_cnn")
        convs = [layer for layer in backbone.layers if isinstance(layer, keras.layers.Conv2D)]
        return [(conv.kernel_size, conv.strides, conv.output.shape[1:]) for conv in convs]

    assert conv_shapes(0) == [((5, 5), (2, 2), (16, 16, 4)), ((3, 3), (1, 1), (16, 16, 8))]
    assert conv_shapes(2)[1:3] == [((3, 3), (1, 1), (16, 16, 4))] * 2


def test_mixed_precision_computes_in_float16_keeps_scores_float32_and_restores_the_policy():
    cfg = TrainParams(architecture="simple_cnn", cnn_blocks=1, cnn_filters=4, mixed_precision=True)
    model = build_model(cfg, 32, 3)
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
    conv = next(layer for layer in model.get_layer("simple_cnn").layers if isinstance(layer, keras.layers.Conv2D))
    scores = model(np.zeros((2, 32, 32, 3), np.float32))

    assert conv.compute_dtype == "float16" and conv.variable_dtype == "float32"
    assert model.get_layer("scores").compute_dtype == "float32" and scores.dtype == "float32"
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert keras.mixed_precision.global_policy().name == "float32"
    assert build_model(TrainParams(cnn_blocks=1, cnn_filters=4), 32, 3).get_layer("pool").compute_dtype == "float32"


@pytest.mark.parametrize("head", ["gmp", "attention"])
def test_a_conditional_model_never_scores_a_flavour_above_its_family(tmp_path, head):
    """`train.hierarchy: conditional`: each score is the class's own sigmoid times its parent's score."""
    classes = ["Cans", "Cans/Slim", "Cans/Slim/Gold", "No Yerb"]
    parents = Hierarchy.of(classes).parent_columns()
    assert parents == [-1, 0, 1, -1]
    cfg = TrainParams(architecture="simple_cnn", head=head, hierarchy="conditional", cnn_blocks=2, cnn_filters=4)
    with pytest.raises(ValueError, match="parent column"):
        build_model(cfg, 32, len(classes))  # without the tree it would silently be independent
    model = build_model(cfg, 32, len(classes), parents)
    pixels = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    scores = model.predict(pixels, verbose=0)
    own = keras.Model(model.inputs, model.get_layer("own_scores").output).predict(pixels, verbose=0)
    np.testing.assert_allclose(scores[:, 2], own[:, 2] * own[:, 1] * own[:, 0], rtol=1e-5)
    np.testing.assert_allclose(scores[:, 3], own[:, 3], rtol=1e-5)
    assert (scores[:, 2] <= scores[:, 1]).all() and (scores[:, 1] <= scores[:, 0]).all()
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(reloaded.predict(pixels, verbose=0), scores, rtol=1e-5)


def test_test_time_crops_score_each_class_by_its_best_of_six_views(tmp_path):
    """`train.test_time_crops: 0.75`: the photo and its four corner and centre crops, zoomed; max per class."""
    cfg = TrainParams(architecture="simple_cnn", cnn_blocks=2, cnn_filters=4, test_time_crops=0.75)
    model = build_model(cfg, 32, 3)
    plain = build_model(TrainParams(**{**cfg.__dict__, "test_time_crops": None}), 32, 3)
    plain.set_weights(model.get_weights())
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    crops = [pixels[:, t : t + 24, s : s + 24] for t, s in [(0, 0), (0, 8), (8, 0), (8, 8), (4, 4)]]
    views = [pixels, *(keras.ops.convert_to_numpy(keras.ops.image.resize(c, (32, 32))) for c in crops)]
    expected = np.max([plain.predict(v, verbose=0) for v in views], axis=0)
    np.testing.assert_allclose(model.predict(pixels, verbose=0), expected, rtol=1e-5)
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(reloaded.predict(pixels, verbose=0), expected, rtol=1e-5)
    assert model(pixels, training=True).shape == (2, 3)  # training sees the photo alone
