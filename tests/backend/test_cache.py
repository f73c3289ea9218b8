"""The conversion cache with the real runtimes: a second model (as in a script's next run) loads
what the first converted; failures and speed comparisons are remembered; an unreadable entry
is converted again with one warning; two processes racing on one entry; eviction; the command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from coder.backend import InferenceOptimizer, cache
from coder.backend.cache_command import run as cache_command
from coder.backend.parity import TOLERANCE, relative_error
from tests.backend.inputs import coder_warnings, images

CACHEABLE = [
    ("trace", {"accelerator": "jit"}),
    ("trace", {"accelerator": "onnxruntime"}),
    ("trace", {"accelerator": "openvino"}),
    ("quantize", {"precision": "int8", "accelerator": "onnxruntime"}),
    ("quantize", {"precision": "int8", "accelerator": "openvino"}),
]


@pytest.fixture
def cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CODER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def accelerate(method, model, options, **extra):
    return getattr(InferenceOptimizer, method)(model, **options, **extra)


def call(model, x):
    with torch.no_grad():
        return model(x)


@pytest.mark.slow
@pytest.mark.parametrize("method, options", CACHEABLE, ids=lambda v: v if isinstance(v, str) else "-".join(v.values()))
def test_the_next_run_loads_what_this_one_converted(method, options, resnet18, cache_folder):
    x = images(1, 0)
    first = accelerate(method, resnet18, options)
    converted = call(first, x)
    assert first.accelerated and first.story.converted and first.story.stored
    second = accelerate(method, resnet18, options)
    loaded = call(second, x)
    assert second.accelerated and not second.story.converted and second.story.loaded_seconds > 0
    assert torch.equal(loaded, converted)  # the same files run: the same numbers
    precision = options.get("precision", "fp32")
    assert relative_error(loaded, resnet18(x)) <= TOLERANCE[precision]
    [entry] = cache.entries(cache_folder)
    assert entry.meta()["status"] == "ok"


def test_other_weights_or_shapes_are_other_entries(resnet18, cache_folder):
    model = accelerate("trace", resnet18, {"accelerator": "jit"})
    call(model, images(1, 0))
    call(model, images(2, 0))  # TorchScript: one graph per exact shape
    other = torch.nn.Linear(4, 2).eval()
    call(accelerate("trace", other, {"accelerator": "jit"}), torch.rand(1, 4))
    assert len(cache.entries(cache_folder)) == 3


class DataDependentBranch(torch.nn.Module):
    def forward(self, x):
        return x * 2 if x.mean() > 0 else x - 1


def test_a_failure_is_remembered_and_not_tried_again(cache_folder, runtime_warnings):
    positive, negative = torch.ones(2, 3), torch.full((2, 3), -3.0)
    first = accelerate("trace", DataDependentBranch(), {"accelerator": "jit"})
    call(first, positive)
    call(first, negative)  # the second call catches the traced branch
    assert first.fallback_reason
    second = accelerate("trace", DataDependentBranch(), {"accelerator": "jit"})
    assert torch.equal(call(second, positive), positive * 2)
    assert second.fallback_reason == first.fallback_reason and not second.story.converted
    [entry] = cache.entries(cache_folder)
    assert entry.meta() | {"status": "failed", "reason": first.fallback_reason} == entry.meta()
    assert len(coder_warnings(runtime_warnings)) == 2  # one line per model, no more


@pytest.mark.parametrize("damage", ["model.xml", "meta.json"])
def test_an_unreadable_entry_is_converted_again_with_one_warning(damage, resnet18, cache_folder, runtime_warnings):
    x = images(1, 0)
    call(accelerate("trace", resnet18, {"accelerator": "openvino"}), x)
    [entry] = cache.entries(cache_folder)
    (entry.folder / damage).write_text("<not what it was")
    again = accelerate("trace", resnet18, {"accelerator": "openvino"})
    assert relative_error(call(again, x), resnet18(x)) <= TOLERANCE["fp32"]
    assert again.accelerated and again.story.converted
    [message] = coder_warnings(runtime_warnings)
    assert message.startswith("coder: nano_openvino_fp32: its cache entry is unreadable (")
    assert message.endswith("): converting the model again")
    third = accelerate("trace", resnet18, {"accelerator": "openvino"})
    call(third, x)
    assert third.story.loaded_seconds > 0 and not third.story.converted  # the entry was repaired


def test_the_speed_comparison_is_stored_with_the_model(resnet18, cache_folder):
    x = images(1, 0)
    first = accelerate("trace", resnet18, {"accelerator": "onnxruntime"}, never_slower=True)
    call(first, x)
    second = accelerate("trace", resnet18, {"accelerator": "onnxruntime"}, never_slower=True)
    call(second, x)
    assert first.speed is not None and second.speed == first.speed  # read back, not timed again


def test_cache_off_writes_nothing(resnet18, tmp_path, monkeypatch):
    monkeypatch.setenv("CODER_CACHE", "off")
    monkeypatch.setenv("HOME", str(tmp_path))
    model = accelerate("trace", resnet18, {"accelerator": "jit"})
    call(model, images(1, 0))
    assert model.accelerated and not model.story.stored and list(tmp_path.iterdir()) == []


RACER = textwrap.dedent("""
    import sys, torch, torchvision
    from coder.backend import InferenceOptimizer
    torch.manual_seed(0)
    model = InferenceOptimizer.trace(torchvision.models.resnet18(weights=None).eval(), accelerator="openvino")
    with torch.no_grad():
        out = model(torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1)))
    story = model.story
    print("converted" if story.converted else "loaded" if story.loaded_seconds else "neither", model.accelerated)
    torch.save(out, sys.argv[1])
""")


@pytest.mark.slow
def test_two_processes_racing_on_one_entry(cache_folder, tmp_path):
    env = {
        **os.environ,
        "CODER_CACHE": str(cache_folder),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }  # this checkout's coder
    script = tmp_path / "racer.py"
    script.write_text(RACER)
    racers = [
        subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / f"out{i}.pt")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    results = [racer.communicate(timeout=600) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], [err[-2000:] for _, err in results]
    assert sorted(out.strip() for out, _ in results) == ["converted True", "loaded True"]
    assert torch.equal(torch.load(tmp_path / "out0.pt"), torch.load(tmp_path / "out1.pt"))
    [entry] = cache.entries(cache_folder)
    assert entry.meta()["status"] == "ok" and list((cache_folder / "staging").iterdir()) == []


def fake_entry(folder, key: str, size: int, used: float) -> cache.Entry:
    entry = cache.Entry(folder / "entries" / key)
    staging = cache.staging_folder(folder)
    staging.mkdir()
    (staging / "model.bin").write_bytes(b"\0" * size)
    with entry.locked():
        entry.commit(staging, {"status": "ok", "label": "fake"})
    os.utime(entry.folder / cache.META, (used, used))
    return entry


def test_the_least_recently_used_entries_go_first(cache_folder, monkeypatch):
    monkeypatch.setenv("CODER_CACHE_SIZE", "10M")
    for index, used in enumerate([300, 100, 200]):
        fake_entry(cache_folder, f"key{index}", 4 << 20, used)
    assert {entry.key for entry in cache.entries(cache_folder)} == {"key0", "key2"}  # key1: used longest ago
    assert cache.entries(cache_folder)[0].key == "key0"


def test_an_entry_in_use_elsewhere_is_not_evicted(cache_folder):
    held = fake_entry(cache_folder, "held", 1 << 20, 100)
    with held.locked():
        removed = subprocess.run(
            [
                sys.executable,
                "-c",
                "from coder.backend import cache; import pathlib, sys; "
                "print(cache.evict(pathlib.Path(sys.argv[1]), limit=0))",
                str(cache_folder),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    assert removed.strip() == "[]" and held.folder.is_dir()


def test_cache_list_and_clear(cache_folder, capsys):
    fake_entry(cache_folder, "a" * 32, 2048, 100)
    assert cache_command("list") == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].startswith(f"{cache_folder}: 1 entries, 2.1 KB of 4.0 GB")
    assert listing[1].startswith("aaaaaaaaaaaa  fake")
    assert cache_command("clear") == 0
    assert capsys.readouterr().out.startswith("removed 1 entries (2.1 KB)")
    assert cache.entries(cache_folder) == []
    assert cache_command("nonsense") == 2


def test_cache_command_from_the_command_line(cache_folder):
    fake_entry(cache_folder, "b" * 32, 10, 100)
    result = subprocess.run(
        [sys.executable, "-m", "coder", "cache", "list"],
        capture_output=True,
        text=True,
        env={**os.environ, "CODER_CACHE": str(cache_folder)},
        check=True,
    )
    assert "bbbbbbbbbbbb  fake" in result.stdout
    meta = json.loads((cache_folder / "entries" / ("b" * 32) / "meta.json").read_text())
    assert meta["format"] == cache.FORMAT and meta["key"] == "b" * 32
