"""Detection (coder.inspect): models, ready points, inference sites, loaders, for DESIGN section 6."""

from pathlib import Path

import coder
import coder.engine

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def inspect_case(case: str) -> dict:
    return coder.inspect((FIXTURES / case / "input.py").read_text())


def models_of(source: str) -> list[tuple[str, int, int, str]]:
    return [(m["var"], m["line"], m["ready_line"], m["scope"]) for m in coder.inspect(source)["models"]]


def test_design_example_json_shape():
    found = inspect_case("resnet_no_grad")
    assert found == {
        "models": [{"var": "model", "line": 5, "ready_line": 6, "scope": "<module>"}],
        "inference": [{"model": "model", "line": 10}],
        "loaders": [],
        "warnings": [],
        "candidates": [
            {"var": "model", "line": 5, "model": True, "evidence": ["built by torchvision.models.resnet18: +2"]}
        ],
    }


def test_warnings_are_in_the_json_with_their_code_and_position():
    assert inspect_case("ipex_bf16_already")["warnings"] == [
        {
            "code": "C203",
            "name": "replaced-optimization",
            "line": 6,
            "column": 1,
            "message": "'model' is already optimized with ipex.optimize (line 10): -o NAME replaces that optimization "
            "(--keep-existing keeps it)",
        }
    ]
    assert inspect_case("no_model_utility")["warnings"] == [
        {
            "code": "C001",
            "name": "no-model",
            "line": None,
            "column": None,
            "message": "no model found: the script is left unchanged",
        }
    ]


def test_module_alias_and_renamed_factory():
    source = (
        "import torchvision.models as m\nfrom torchvision.models import resnet50 as r\n"
        "a = m.resnet18()\nb = r()\na(1)\nb(2)\n"
    )
    assert models_of(source) == [("a", 3, 3, "<module>"), ("b", 4, 4, "<module>")]


def test_transformers_alias_and_tokenizer_is_not_a_model():
    source = (
        "from transformers import AutoModel as AM, AutoTokenizer as AT\n"
        "tok = AT.from_pretrained('x')\nenc = AM.from_pretrained('x')\nenc(**tok('hi'))\n"
    )
    assert models_of(source) == [("enc", 3, 3, "<module>")]


def test_every_inference_site_of_a_warm_up_and_timed_loop():
    found = inspect_case("resnet_main_argparse")
    assert [s["line"] for s in found["inference"]] == [28, 31]
    assert found["models"][0]["scope"] == "main"


def test_model_passed_to_a_function_and_loader():
    found = inspect_case("imagenet_validate")
    # model.eval() runs in validate(): optimized there, after it (the loop's val_loader calibrates INT8)
    assert found["models"] == [{"var": "model", "line": 50, "ready_line": 34, "scope": "validate"}]
    assert found["inference"] == [{"model": "model", "line": 39}]
    assert found["loaders"] == [{"var": "val_loader", "line": 62}]


def test_helper_returning_a_tuple():
    assert models_of((FIXTURES / "helper_returns_tuple" / "input.py").read_text()) == [("classifier", 13, 13, "main")]


def test_self_model_ready_after_to_and_eval():
    assert inspect_case("self_model_class")["models"] == [
        {"var": "self.model", "line": 9, "ready_line": 11, "scope": "Classifier.__init__"}
    ]


def test_reassigned_model_is_two_models():
    assert [(m["line"], m["ready_line"]) for m in inspect_case("reassigned_model")["models"]] == [(8, 9), (15, 16)]


def test_class_defined_in_file_and_decorated_function():
    found = inspect_case("custom_module_decorated")
    assert [(m["var"], m["ready_line"]) for m in found["models"]] == [("net", 32)]
    assert found["inference"] == [{"model": "net", "line": 25}]


def test_training_forward_passes_are_not_inference():
    found = inspect_case("train_then_eval")
    assert found["models"][0]["ready_line"] == 37  # after the training loop and model.eval()
    assert [s["line"] for s in found["inference"]] == [41]


def test_trained_and_evaluated_every_epoch_is_optimized_in_the_evaluation_function():
    found = inspect_case("mnist_train_test_each_epoch")
    assert found["models"] == [{"var": "model", "line": 67, "ready_line": 40, "scope": "test"}]  # after model.eval()
    assert [w["code"] for w in found["warnings"]] == ["C204"]


def test_no_model_scripts():
    for case in ("no_model_utility", "no_model_tensor_math", "no_model_tokenizer_only", "no_model_state_dict"):
        assert inspect_case(case)["models"] == [], case


def test_pipeline_and_generate_models():
    assert inspect_case("pipeline_sentiment")["models"][0]["var"] == "classifier"
    assert inspect_case("hf_generate")["inference"] == [{"model": "model", "line": 9}]


def test_torch_load_and_hub_models():
    assert [m["var"] for m in inspect_case("torch_load_and_hub")["models"]] == ["detector", "midas"]


def test_self_model_trained_in_a_method_is_skipped():
    assert inspect_case("trainer_class_skipped")["models"] == []
    warnings = coder.engine.patch((FIXTURES / "trainer_class_skipped" / "input.py").read_text(), "nano_bf16").warnings
    assert [str(w) for w in warnings] == ["9:9: C102 'self.net' is trained in train_step() (line 12): left as it is"]


def test_layers_of_a_model_class_are_not_models():
    source = (
        "import torch.nn as nn\nclass Block(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.body = nn.Sequential(nn.ReLU())\n"
        "    def forward(self, x):\n        return self.body(x)\nb = Block()\nb(1)\n"
    )
    assert models_of(source) == [("b", 8, 8, "<module>")]


def test_a_class_with_forward_is_a_module_even_with_an_unknown_base():
    source = (
        "from mylib import Layer, Attention\nclass Block(Layer):\n    def __init__(self):\n"
        "        self.attn = Attention()\n    def forward(self, x):\n        return self.attn(x)\n"
        "b = Block()\nb(1)\n"
    )
    assert models_of(source) == [("b", 7, 7, "<module>")]


def test_an_environment_step_is_not_training():
    source = (
        "import torchvision\npolicy = torchvision.models.resnet18().eval()\nobs = env.reset()\n"
        "for t in range(100):\n    action = policy(obs).argmax()\n    obs, reward, done, info = env.step(action)\n"
    )
    assert coder.inspect(source)["inference"] == [{"model": "policy", "line": 5}]


def test_functions_without_model_words_are_followed_through_calls():
    source = (
        "import torchvision\nmodel = torchvision.models.resnet18()\n\n\n"
        "def unrelated(rows):\n    return len(rows)\n\n\n"
        "def predict(x):\n    return model(x)\n\n\n"
        "def main():\n    for x in range(3):\n        predict(x)\n\n\nmain()\n"
    )
    found = coder.inspect(source)
    assert found["inference"] == [{"model": "model", "line": 10}]
    assert found["models"][0]["ready_line"] == 2
