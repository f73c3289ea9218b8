"""Models coder cannot resolve by name: the evidence their uses leave, weighed (evidence.py), the
script's sibling modules read (siblings.py), and what must never be taken for a model."""

import pytest

import coder
from coder import engine
from tests.engine.codemod import assert_codemod


def candidates(source: str, path: str | None = None) -> dict[str, tuple[bool, list[str]]]:
    return {c["var"]: (c["model"], c["evidence"]) for c in engine.inspect(source, path)["candidates"]}


@pytest.mark.parametrize(
    "uses",
    [
        "net.eval()\nnet(1)",  # a module method and a call
        "net.load_state_dict(state)\nnet(1)",
        "net(torch.rand(1, 3))",  # called on a tensor
        "net(**inputs)",
        "net.cuda()\nnet(1)",  # moved, and called
        "print(sum(p.numel() for p in net.parameters()))\nnet(1)",
    ],
)
def test_enough_evidence_makes_a_model(uses):
    source = f"import torch\nfrom lib import build\nnet = build()\n{uses}\n"
    assert candidates(source)["net"][0] is True
    assert 'net = InferenceOptimizer.trace(net, accelerator="jit")' in engine.patch(source, "nano_jit_fp32").source


@pytest.mark.parametrize(
    "uses",
    [
        "net(1)",  # called on something that is not known to be a tensor: +1 only
        "net.to(device)\nprint(net)",  # moved but never called
        "net.eval()\nnet.step()\nnet(1)",  # an optimizer's step()
        "net.eval()\nprint(len(net))\nnet(1)",  # a dataset's len()
        "net.eval()\nnet[0]\nnet(1)",
        "net.eval()\nnet(1)\nnet.decode(ids)",  # a tokenizer's decode()
    ],
)
def test_too_little_or_contrary_evidence_is_no_model(uses):
    assert_codemod(f"from lib import build\nnet = build()\n{uses}\n", expected_skip="C001")


@pytest.mark.parametrize(
    "line",
    [
        "tokenizer = build()",
        "image_processor = build()",
        "optimizer = build()",
        "val_loader = build()",
        "criterion = build()",
        "train_dataset = build()",
    ],
)
def test_a_name_that_says_what_it_is_rules_it_out(line):
    var = line.split(" ")[0]
    source = f"import torch\nfrom lib import build\n{line}\n{var}.eval()\n{var}(torch.rand(1))\n"
    taken, evidence = candidates(source)[var]
    assert not taken and f"its name '{var}': rules it out" in evidence


@pytest.mark.parametrize(
    "builder",
    [
        "from transformers import AutoTokenizer\nx = AutoTokenizer.from_pretrained('bert')",
        "from transformers import CLIPProcessor\nx = CLIPProcessor.from_pretrained('clip')",
        "import torch\nx = torch.optim.AdamW(params)",
        "import torch.nn as nn\nx = nn.MSELoss()",
        "from torchvision import transforms\nx = transforms.Compose([])",
        "from torchvision import datasets\nx = datasets.CIFAR10('data')",
    ],
)
def test_known_non_models_are_never_taken(builder):
    assert_codemod(f"import torch\n{builder}\nx.eval()\nx(torch.rand(1))\n", expected_skip="C001")


def test_the_evidence_is_shown_for_each_candidate():
    source = "import torch\nfrom lib import build\nnet = build().eval()\ntok = build()\nnet(torch.rand(1))\ntok('a')\n"
    assert candidates(source) == {
        "net": (True, ["built by lib.build: +0", ".eval() (line 3): +2", "called on a tensor (line 5): +2"]),
        "tok": (False, ["built by lib.build: +0", "its name 'tok': rules it out", "called (line 6): +1"]),
    }


def test_evidence_in_the_function_the_candidate_is_passed_to_counts():
    source = (
        "from lib import build\n\ndef evaluate(model, batches):\n    model.eval()\n"
        "    return [model(b) for b in batches]\n\nnet = build()\nevaluate(net, [1])\n"
    )
    assert candidates(source)["net"][0] is True


def test_a_single_layer_is_a_model_and_an_activation_is_not():
    found = coder.inspect(
        "import torch\nlayer = torch.nn.Linear(2, 2)\nact = torch.nn.ReLU()\nact(layer(torch.ones(2)))\n"
    )
    assert [m["var"] for m in found["models"]] == ["layer"]


def test_a_class_from_a_sibling_file_is_a_model_when_the_file_says_so(tmp_path):
    (tmp_path / "net.py").write_text(
        "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    pass\n\n\nclass Table:\n    pass\n"
    )
    script = tmp_path / "run.py"
    source = "from net import Net, Table\nn = Net()\nt = Table()\nn(1)\nt(1)\n"
    found = candidates(source, str(script))
    assert found == {
        "n": (True, ["built by Net (net.py): +2"]),
        "t": (False, ["built by net.Table: +0", "called (line 5): +1"]),
    }
    assert candidates(source) == {
        "n": (False, ["built by net.Net: +0", "called (line 4): +1"]),
        "t": (False, ["built by net.Table: +0", "called (line 5): +1"]),
    }


def test_a_sibling_package_re_exporting_a_factory(tmp_path):
    package = tmp_path / "models"
    package.mkdir()
    (package / "__init__.py").write_text("from .factory import build\n")
    (package / "factory.py").write_text(
        "import torchvision\n\n\ndef build():\n    return torchvision.models.resnet18()\n"
    )
    found = candidates("from models import build\nm = build()\nm(1)\n", str(tmp_path / "run.py"))
    assert found == {"m": (True, ["built by build (models/factory.py): +2"])}


def test_sibling_modules_that_import_each_other_are_read_once(tmp_path):
    (tmp_path / "a.py").write_text("from b import B\n\n\nclass A(B):\n    pass\n")
    (tmp_path / "b.py").write_text("from a import A\n\n\nclass B(A):\n    pass\n")
    assert candidates("from a import A\nx = A()\nx(1)\n", str(tmp_path / "run.py"))["x"][0] is False


def test_a_name_that_also_says_model_is_not_ruled_out_by_its_other_words():
    source = "import torch\nfrom lib import build\nloss_net = build()\nloss_net.eval()\nloss_net(torch.rand(1))\n"
    assert candidates(source)["loss_net"][0] is True
