"""Models that libraries, classes and apps hold: the held module optimized in place,
instances imported from a sibling, async handlers, decoys, and where set-up ends."""

from coder import engine
from tests.engine.codemod import assert_codemod


def test_an_unknown_object_whose_attribute_is_used_as_a_module_has_that_module_optimized():
    assert_codemod(
        """\
        from lib import Engine
        engine = Engine("cfg.yaml")
        engine.net.eval()
        print(engine.infer("a.jpg"))
        """,
        """\
        from lib import Engine
        from coder.backend import InferenceOptimizer

        engine = Engine("cfg.yaml")
        engine.net.eval()
        engine.net = InferenceOptimizer.trace(engine.net, accelerator="jit")
        with InferenceOptimizer.get_context(engine.net):
            print(engine.infer("a.jpg"))
        """,
    )
    found = engine.inspect('from lib import Engine\ne = Engine()\ne.net.eval()\ne("a.jpg")\n')["candidates"]
    assert found[-1]["evidence"][-1] == "its attribute .net is used as a torch module: the module it holds"


def test_an_unknown_object_without_a_visible_module_is_left_alone():
    assert_codemod('from lib import Engine\nengine = Engine()\nprint(engine.infer("a.jpg"))\n', expected_skip="C001")


def test_a_torch_object_run_through_a_method_coder_cannot_see_into_is_left_alone_with_why():
    assert_codemod(
        """\
        from lib import load
        reader = load("en")
        reader.eval()
        print(reader.predict("receipt.png"))
        """,
        expected_skip="C003",
        expected_warnings=(
            "2:1: C106 'reader' runs a torch module through .predict(), but coder cannot tell which of its "
            "attributes is that module: left as it is",
        ),
    )


def test_a_known_library_object_keeps_its_own_api():
    outcome = assert_codemod(
        """\
        import whisper
        asr = whisper.load_model("base")
        print(asr.transcribe("a.mp3")["text"])
        """,
        """\
        import whisper
        from coder.backend import InferenceOptimizer

        asr = whisper.load_model("base")
        asr.encoder = InferenceOptimizer.trace(asr.encoder, accelerator="jit")
        with InferenceOptimizer.get_context(asr.encoder):
            print(asr.transcribe("a.mp3")["text"])
        """,
    )
    assert not outcome.warnings


def test_get_context_never_spans_an_await():
    assert_codemod(
        """\
        import torch
        import torchvision
        model = torchvision.models.resnet18()
        model.eval()

        async def handler(request):
            with torch.no_grad():
                y = model(torch.rand(1, 3, 8, 8))
                await request.reply(y)
            return model(await request.tensor())
        """,
        """\
        import torch
        import torchvision
        from coder.backend import InferenceOptimizer

        model = torchvision.models.resnet18()
        model.eval()
        model = InferenceOptimizer.trace(model, accelerator="jit")

        async def handler(request):
            with torch.no_grad():
                with InferenceOptimizer.get_context(model):
                    y = model(torch.rand(1, 3, 8, 8))
                await request.reply(y)
            return model(await request.tensor())
        """,
        expected_warnings=(
            "10:12: C202 no safe place for InferenceOptimizer.get_context around this call "
            "(a lambda, an await in the statement, or the statement that builds the model): "
            "it runs without it",
        ),
    )


def test_a_module_without_weights_is_no_model():
    source = (
        "import torch\nfrom torch import nn\n\nclass Decode(nn.Module):\n    def __init__(self, labels):\n"
        "        super().__init__()\n        self.labels = labels\n\n    def forward(self, x):\n"
        "        return self.labels[int(x.argmax())]\n\ndecode = Decode('abc')\nprint(decode(torch.rand(3)))\n"
    )
    candidate = engine.inspect(source)["candidates"][0]
    assert not candidate["model"] and "a module without parameters or buffers: rules it out" in candidate["evidence"][0]


def test_a_scripted_model_is_converted_only_by_runtimes_that_read_torchscript():
    source = "import torch\nmodel = torch.jit.load('m.pt')\nprint(model(torch.rand(1, 3)))\n"
    assert_codemod(
        source,
        expected_skip="C003",
        expected_warnings=(
            "2:1: C101 'model' is already optimized with torch.jit.load: not adding a second optimization",
        ),
    )
    patched = engine.patch(source, "nano_openvino_fp32").source
    assert 'model = InferenceOptimizer.trace(model, accelerator="openvino")' in patched


def test_an_instance_built_by_a_sibling_module_is_optimized_after_its_import(tmp_path):
    (tmp_path / "net.py").write_text("import torch\nmodel = torch.nn.Linear(4, 2)\nmodel.eval()\n")
    script = tmp_path / "run.py"
    source = "import torch\nfrom net import model\n\nprint(model(torch.rand(1, 4)))\n"
    patched = engine.patch(source, "nano_jit_fp32", path=str(script)).source
    assert patched.splitlines()[2:5] == [
        "from coder.backend import InferenceOptimizer",
        "",
        'model = InferenceOptimizer.trace(model, accelerator="jit")',
    ]
    assert engine.patch(source, "nano_jit_fp32").source == source  # without the folder: nothing known


def test_one_call_after_the_last_set_up_even_inside_an_if():
    assert_codemod(
        """\
        import torch
        model = torch.load("m.pt")
        model.eval()
        model.requires_grad_(False)
        if torch.cuda.is_available():
            model = model.cuda()
        print(model(torch.rand(1, 3)))
        """,
        """\
        import torch
        from coder.backend import InferenceOptimizer

        model = torch.load("m.pt")
        model.eval()
        model.requires_grad_(False)
        if torch.cuda.is_available():
            model = model.cuda()
        model = InferenceOptimizer.trace(model, accelerator="jit")
        with InferenceOptimizer.get_context(model):
            print(model(torch.rand(1, 3)))
        """,
    )
