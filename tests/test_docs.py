"""docs/paper.md stays the project's account of the paper: cited correctly and true to the code.

(a) nothing in the repository cites the team's private notes file instead of docs/paper.md;
(b) every citation of a docs/paper.md heading (path, comma, quoted heading) names one that exists;
(c) the doc's count, recipe, protocol and result tables agree with the code.
"""

import importlib
import pathlib
import re
import subprocess

import pytest

import keras_resnet_paper as krp
from keras_resnet_paper import paper
from keras_resnet_paper.models import spec

ROOT = pathlib.Path(__file__).parents[1]
DOC = (ROOT / "docs" / "paper.md").read_text(encoding="utf-8")
#: Where citations live: the package, tests, examples, benchmarks, the README and docs/.
CITING_PATHS = ("keras_resnet_paper", "tests", "examples", "benchmarks", "README.md", "docs")
#: The notes file outside the repository that users do not have (spelt so this file does not cite it).
PRIVATE_NOTES = "PAPER" + ".md"
#: A citation: the doc's path, a comma and the heading in single or double quotes. The heading may
#: wrap onto a second line (of a comment too), so whitespace and '#' inside it are normalised.
CITATION = re.compile(r"docs/paper\.md,\s*['\"]([^'\"]{1,100})['\"]")
SUPERSCRIPT = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")


# ----------------------------------------------------------------------------- helpers
def _repo_files() -> list[pathlib.Path]:
    """Tracked and new (not ignored) files under CITING_PATHS (every file there without git)."""
    try:
        command = ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *CITING_PATHS]
        out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
        files = [ROOT / line for line in out.splitlines() if line]
    except (OSError, subprocess.CalledProcessError):
        paths = [ROOT / name for name in CITING_PATHS]
        files = [f for p in paths for f in ([p] if p.is_file() else p.rglob("*"))]
    return [f for f in files if f.is_file() and "__pycache__" not in f.parts]


def _text(path: pathlib.Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def _headings() -> list[str]:
    return [line.lstrip("#").strip() for line in DOC.splitlines() if re.match(r"#{1,6} ", line)]


def _section(heading: str) -> str:
    """The text under `heading`, up to the next heading of any level."""
    lines = DOC.splitlines()
    marks = [i for i, line in enumerate(lines) if re.match(r"#{1,6} ", line)]
    start = next(i for i in marks if lines[i].lstrip("#").strip() == heading)
    end = next((i for i in marks if i > start), len(lines))
    return "\n".join(lines[start + 1 : end])


def _tables(heading: str) -> list[list[dict[str, str]]]:
    """The Markdown tables of a section, each a list of {column header: cell} rows."""
    tables, block = [], []
    for line in _section(heading).splitlines() + [""]:
        if line.startswith("|"):
            block.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif block:
            header, rows = block[0], block[2:]  # block[1] is the |---| rule
            tables.append([dict(zip(header, row, strict=True)) for row in rows])
            block = []
    return tables


def _table(heading: str, first_column: str) -> dict[str, dict[str, str]]:
    """The table of `heading` whose first column is `first_column`, keyed by that column."""
    for table in _tables(heading):
        if table and next(iter(table[0])) == first_column:
            return {row[first_column]: row for row in table}
    raise AssertionError(f"no table with first column {first_column!r} under {heading!r}")


def _heading(cited: str) -> str:
    """A cited heading with line breaks, comment markers and repeated spaces removed."""
    return " ".join(cited.replace("#", " ").split())


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def _power(text: str) -> float:
    """'10⁻⁴' -> 1e-4."""
    base, exponent = text.translate(SUPERSCRIPT).split("10", 1)
    assert base == "", text
    return 10.0 ** int(exponent)


def _flat(heading: str) -> str:
    return " ".join(_section(heading).split())


# ----------------------------------------------------------------------------- (a) and (b)
def test_nothing_cites_the_private_notes_file():
    files = _repo_files()
    assert any(f.name == "README.md" for f in files) and any(f.suffix == ".py" for f in files)
    offenders = [
        f"{f.relative_to(ROOT)}:{n}: {line.strip()}"
        for f in files
        for n, line in enumerate(_text(f).splitlines(), 1)
        if PRIVATE_NOTES in line
    ]
    assert not offenders, (
        f"cite docs/paper.md (by heading) or the paper's section instead of {PRIVATE_NOTES}:\n" + "\n".join(offenders)
    )


def test_citation_pattern():
    sample = "CIFAR (docs/paper.md, 'CIFAR-10 training') and\n# (docs/paper.md, \"Shortcut options\n# (Sec. 3.3)\")."
    assert [_heading(c) for c in CITATION.findall(sample)] == ["CIFAR-10 training", "Shortcut options (Sec. 3.3)"]


def test_headings_are_unique_and_quotable():
    headings = _headings()
    assert len(headings) == len(set(headings)), "headings must be unique so citations are unambiguous"
    assert not [h for h in headings if "'" in h or '"' in h], "a heading with a quote cannot be cited"


def test_citations_name_existing_headings():
    headings = set(_headings())
    broken = [
        f"{f.relative_to(ROOT)}: {cited!r}"
        for f in _repo_files()
        for cited in CITATION.findall(_text(f))
        if "{" not in cited and _heading(cited) not in headings  # "{...}": a formatted citation, below
    ]
    assert not broken, "citations of docs/paper.md headings that do not exist:\n" + "\n".join(broken)


def test_experiments_cite_existing_headings():
    """The reproduce report cites `docs/paper.md, '{exp.docs}'` for each experiment."""
    from keras_resnet_paper.reproduce.experiments import EXPERIMENTS

    headings = set(_headings())
    missing = {name: e.docs for name, e in EXPERIMENTS.items() if e.docs and e.docs not in headings}
    assert not missing, missing


def test_code_paths_named_in_the_doc_exist():
    named = set(re.findall(r"`((?:models|data|training|evaluation|weights|tests|examples)/[\w/]+\.py)`", DOC))
    assert "models/blocks.py" in named
    missing = [p for p in sorted(named) if not (ROOT / "keras_resnet_paper" / p).is_file() and not (ROOT / p).is_file()]
    assert not missing, f"docs/paper.md names files that do not exist: {missing}"


def test_readme_layout_lists_the_doc():
    layout = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    assert "docs/paper.md" in layout


# ----------------------------------------------------------------------------- (c) counts
def test_cifar_counts_table_matches_built_models():
    rows = _table("CIFAR-10 counts", "network")
    assert [_int(r["n"]) for r in rows.values()] == [3, 5, 7, 9, 18, 200]
    built = {}
    for depth in (20, 32, 56):
        model = krp.cifar_resnet(depth)
        built[spec.cifar_blocks_per_stage(depth)] = (krp.count_params(model), krp.count_flops(model))
    # Both counts are linear in n (every block after a stage's first repeats it); fit on n = 3, 5.
    (p3, f3), (p5, f5) = built[3], built[5]

    def predicted(n: int) -> tuple[int, int]:
        return p3 + (p5 - p3) * (n - 3) // 2, f3 + (f5 - f3) * (n - 3) // 2

    assert predicted(9) == built[9]
    for name, row in rows.items():
        n = _int(row["n"])
        depth = 6 * n + 2
        params, flops = predicted(n)
        assert name == f"ResNet-{depth}"
        assert _int(row["parameters"]) == params == paper.CIFAR_PARAMS[depth], name
        assert float(row["MFLOPs"]) == round(flops / 1e6, 1), name
        assert float(row["paper"].rstrip("M")) * 1e6 == pytest.approx(params, rel=0.02), name


def test_imagenet_counts_table_matches_the_code():
    rows = _table("ImageNet counts", "network")
    for depth in spec.IMAGENET_SPECS:
        row = rows[f"ResNet-{depth}"]
        assert _int(row["parameters"]) == paper.IMAGENET_PARAMS[depth], depth
        assert float(row["GFLOPs"]) == paper.IMAGENET_GFLOPS[depth], depth
        v1_5 = row["GFLOPs, v1.5 (3×3 strided)"]
        assert (float(v1_5) if v1_5 != "–" else None) == paper.IMAGENET_GFLOPS_V1_5.get(depth), depth
    built = {
        "ResNet-18": krp.ResNet18(),
        "plain-18": krp.Plain18(),
        "ResNet-34 A": krp.ResNet34(shortcut="A"),
        "ResNet-34 C": krp.ResNet34(shortcut="C"),
    }
    built["plain-34"] = built["ResNet-34 A"]  # equal counts: asserted in tests/models/test_counts.py
    for name, model in built.items():
        assert _int(rows[name]["parameters"]) == krp.count_params(model), name
        assert float(rows[name]["GFLOPs"]) == round(krp.count_flops(model) / 1e9, 2), name


# ----------------------------------------------------------------------------- (c) recipes
def _warmup(cell: str):
    if cell == "none":
        return None, ()
    m = re.fullmatch(r"lr ([\d.]+) until training error < (\d+)%, for (.+)", cell)
    assert m, cell
    return (float(m[1]), int(m[2]) / 100), tuple(s.strip() for s in m[3].split(","))


def test_recipe_table_matches_recipes():
    from keras_resnet_paper.training.recipes import RECIPES

    rows = _table("Recipes in the code", "recipe")
    assert {name.strip("`") for name in rows} == set(RECIPES)
    for name, row in rows.items():
        recipe = RECIPES[name.strip("`")]
        assert _int(row["batch"]) == recipe.batch_size, name
        assert float(row["learning rate"]) == recipe.base_lr, name
        assert _int(row["iterations"]) == recipe.iterations, name
        steps = row["divided by 10 at iteration"]
        if steps == "on plateau":
            assert recipe.plateau and recipe.boundaries == (), name
        else:
            assert not recipe.plateau and tuple(_int(s) for s in steps.split(", ")) == recipe.boundaries, name
        assert recipe.lr_decay == 0.1, name
        warmup, models = _warmup(row["warm-up"])
        expected = None if recipe.warmup_lr is None else (recipe.warmup_lr, recipe.warmup_error)
        assert warmup == expected and models == (recipe.warmup_models if warmup else ()), name


def test_recipe_prose_matches_recipes():
    from keras_resnet_paper.training.recipes import RECIPES

    text = _flat("Recipes in the code")
    m = re.search(r"momentum ([\d.]+) and weight decay (10\S+)", text)
    assert m and all(r.momentum == float(m[1]) and r.weight_decay == _power(m[2].rstrip(".")) for r in RECIPES.values())
    imagenet = RECIPES["imagenet_paper"]
    m = re.search(
        r"evaluated every ([\d,]+) iterations: after (\d+) evaluations without an improvement of at least "
        r"([\d.]+) point, the learning rate is divided by 10 \(never below (10\S+)\)",
        text,
    )
    assert m, "the plateau sentence of 'Recipes in the code' changed; update this test with it"
    assert _int(m[1]) == imagenet.eval_every and int(m[2]) == imagenet.plateau_patience
    assert float(m[3]) / 100 == pytest.approx(imagenet.plateau_min_delta)
    assert _power(m[4]) == pytest.approx(imagenet.min_lr)


# ----------------------------------------------------------------------------- (c) protocols and results
def test_protocol_constants_match_the_data_code():
    from keras_resnet_paper.data import augment, cifar, crops, imagenet

    testing = _flat("ImageNet testing (Sec. 3.4)")
    scales = re.search(r"shorter sides \{([\d, ]+)\}", testing)[1]
    assert tuple(int(s) for s in scales.split(",")) == crops.TEST_SCALES
    assert f"shorter side is {imagenet.EVAL_SIDE}" in testing
    low, high = imagenet.SCALE_RANGE
    assert f"random length in [{low}, {high}] pixels" in _flat("ImageNet training (Sec. 3.4)")
    assert f"[{low}, {high}] inclusive" in _flat("Data augmentation details")
    assert f"the other {cifar.CIFAR_HOLDOUT:,}" in _flat("CIFAR-10 training")
    assert f"random {cifar.CIFAR_HOLDOUT:,} (seed {cifar.HOLDOUT_SEED})" in _flat("The 45k/5k split")
    means = re.search(r"RGB means of the ImageNet training set \(([\d., ]+)\)", _flat("Mean subtraction"))[1]
    assert [float(v) for v in means.split(",")] == pytest.approx(imagenet.IMAGENET_CHANNEL_MEAN.tolist())
    lighting = _flat("Data augmentation details")
    m = re.search(r"N\(0, ([\d.]+)\) per component, eigenvalues ([\d.]+), ([\d.]+), ([\d.]+)", lighting)
    assert float(m[1]) == augment.LIGHTING_ALPHA_STD
    assert [float(v) * 255 for v in m.groups()[1:]] == pytest.approx(augment.LIGHTING_EIGVAL.tolist())


def test_published_results_match_spec():
    results = "ImageNet results (Tables 2-5, Fig. 4)"
    table2 = _table(results, "layers")
    assert float(table2["18"]["ResNet"]) == paper.IMAGENET_PAPER_ERROR[18][0]
    table3 = _table(results, "network")  # the first "network" table of the section is Table 3
    for depth in (50, 101, 152):
        row = table3[f"ResNet-{depth}"]
        assert (float(row["top-1"]), float(row["top-5"])) == paper.IMAGENET_PAPER_ERROR[depth], depth
    resnet34_b = table3["ResNet-34 B"]
    assert (float(resnet34_b["top-1"]), float(resnet34_b["top-5"])) == paper.IMAGENET_PAPER_ERROR[34]
    table6 = _table("CIFAR-10 results (Table 6, Fig. 6)", "network")
    errors = {int(name.split("-")[1]): float(row["test error %"]) for name, row in table6.items()}
    assert errors == paper.CIFAR_PAPER_ERROR


def _pretrained_configs() -> dict:
    """The registry of released weights (its module is moving from models/ to weights/)."""
    for module in ("keras_resnet_paper.weights", "keras_resnet_paper.models.weights"):
        try:
            return importlib.import_module(module).PRETRAINED_CONFIGS
        except ModuleNotFoundError:
            continue
    raise AssertionError("no PRETRAINED_CONFIGS in keras_resnet_paper.weights or keras_resnet_paper.models.weights")


def test_pretrained_table_matches_the_registry():
    configs = _pretrained_configs()
    rows = _table("ImageNet results (Tables 2-5, Fig. 4)", "weights")
    depths = {int(re.search(r"ResNet(\d+)", name)[1]): row for name, row in rows.items()}
    released = {  # the authors' models: "imagenet" of ResNet-18/34 is torchvision's
        int(name[len("resnet") :])
        for name, tags in configs.items()
        if tags.get("imagenet", {}).get("layout") == "keras_applications_h5"
    }
    assert set(depths) == released
    for depth, row in depths.items():
        expected = configs[f"resnet{depth}"]["imagenet"]["top1"]
        assert float(row["single-crop top-1 accuracy % (keras.applications)"]) == expected
        assert float(row["Table 3 top-1 error % (10-crop)"]) == paper.IMAGENET_PAPER_ERROR[depth][0]
