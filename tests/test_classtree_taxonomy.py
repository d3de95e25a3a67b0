from yerbnet.classtree import taxonomy


def test_a_label_brings_all_its_ancestors():
    assert taxonomy.expand(["Cans/Slim/Cranpom"]) == {"Cans", "Cans/Slim", "Cans/Slim/Cranpom"}


def test_top_level_labels_have_no_parent():
    assert taxonomy.parent("Bottles") is None
    assert taxonomy.parent("Cans/Slim/Gold") == "Cans/Slim"
    assert taxonomy.ancestors("No Yerb") == []


def test_the_seed_taxonomy_has_twenty_classes_with_inner_nodes():
    classes = taxonomy.all_classes()
    assert len(classes) == 20
    assert {"Cans", "Cans/Slim", "Bottles", "No Yerb"} <= set(classes)
    assert classes == sorted(classes)
