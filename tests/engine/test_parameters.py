"""Models bound at a function's parameter: built inline as an argument, or evaluated in turn with
training (the optimizer call goes in the evaluation function, after its .eval())."""

from coder import engine
from tests.engine.codemod import assert_codemod

TRAIN_AND_TEST = """\
    import torch
    import torchvision


    def train(model, loader, optimizer):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            model(x).sum().backward()
            optimizer.step()


    def test(model, loader):
        {eval}
        with torch.no_grad():
            return [model(x) for x, _ in loader]


    net = torchvision.models.resnet18()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for epoch in range(2):
        train(net, [], opt)
        test(net, [])
    """


def test_a_model_built_as_an_argument_is_optimized_in_the_callee_after_its_docstring():
    assert_codemod(
        '''\
        from transformers import AutoModel


        def run(name, model, steps):
            """Time the model."""
            for _ in range(steps):
                model(name)


        run("a", AutoModel.from_pretrained("a"), 3)
        run("b", AutoModel.from_pretrained("b"), 3)
        ''',
        '''\
        from transformers import AutoModel
        from coder.backend import InferenceOptimizer


        def run(name, model, steps):
            """Time the model."""
            model = InferenceOptimizer.quantize(model, precision="bf16")
            with InferenceOptimizer.get_context(model):
                for _ in range(steps):
                    model(name)


        run("a", AutoModel.from_pretrained("a"), 3)
        run("b", AutoModel.from_pretrained("b"), 3)
        ''',
        transform="nano_bf16",
    )


def test_train_and_evaluation_in_turn_optimizes_in_the_evaluation_function():
    source = TRAIN_AND_TEST.format(eval="model.eval()")
    outcome = assert_codemod(
        source,
        source.replace(
            "import torchvision\n", "import torchvision\n    from coder.backend import InferenceOptimizer\n"
        ).replace(
            "        model.eval()\n        with torch.no_grad():\n",
            '        model.eval()\n        model = InferenceOptimizer.trace(model, accelerator="jit")\n'
            "        with torch.no_grad(), InferenceOptimizer.get_context(model):\n",
        ),
        expected_warnings=(
            "19:1: C204 'net' is trained and evaluated in turn: it is optimized in test() after line 14, at each "
            "evaluation",
        ),
    )
    assert "net = InferenceOptimizer" not in outcome.source  # never before training


def test_an_evaluation_function_that_does_not_set_eval_mode_leaves_the_model_alone():
    assert_codemod(
        TRAIN_AND_TEST.format(eval="pass"),
        expected_skip="C003",
        expected_warnings=(
            "19:1: C103 'net' is trained and used for inference in the same statement (line 21): left as it is",
        ),
    )


def test_parameter_models_are_in_the_inspect_report():
    source = "import timm\n\ndef run(m, x):\n    return m(x)\n\nrun(timm.create_model('resnet18'), 1)\n"
    assert engine.inspect(source)["models"] == [{"var": "m", "line": 6, "ready_line": 3, "scope": "run"}]


def test_a_global_model_trained_and_evaluated_in_turn_is_never_optimized_before_training():
    assert_codemod(
        """\
        import torch
        import torchvision

        model = torchvision.models.resnet18()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        def train():
            model(1).sum().backward()
            opt.step()
        def test():
            model.eval()
            return model(1)
        for epoch in range(2):
            train()
            test()
        """,
        expected_skip="C003",
        expected_warnings=(
            "4:1: C103 'model' is trained and used for inference in the same statement (line 12): left as it is",
        ),
    )


def test_a_function_returning_what_it_makes_of_an_inline_model_builds_one_and_is_left():
    assert_codemod(
        """\
        import torch
        import torchvision

        def with_head(backbone):
            backbone(torch.rand(1, 3, 8, 8))  # to see its output size
            return torch.nn.Sequential(backbone, torch.nn.Linear(1000, 2))

        model = with_head(torchvision.models.resnet18())
        """,
        expected_skip="C002",
        expected_warnings=("8:1: C105 'model' is built but coder sees no inference call on it",),
    )
