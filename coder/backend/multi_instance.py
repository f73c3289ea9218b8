"""``to_multi_instance``: several worker processes, each pinned to its own cores.

Workers are forked, so the model is inherited rather than pickled (ONNX Runtime sessions and
compiled models cannot be pickled); each worker rebuilds its runtime on its first call.
"""

from __future__ import annotations

import os

import torch
import torch.multiprocessing as mp


def cpu_sets(num_processes: int, cores_per_process=None, cpu_for_each_process=None) -> list[list[int]]:
    """Which CPUs each worker may use: given explicitly, or consecutive slices of this process's."""
    if cpu_for_each_process is not None:
        if len(cpu_for_each_process) != num_processes:
            raise ValueError("cpu_for_each_process needs one CPU list per process")
        return [list(cpus) for cpus in cpu_for_each_process]
    available = sorted(os.sched_getaffinity(0))
    per = cores_per_process or max(1, len(available) // num_processes)
    return [[available[(i * per + j) % len(available)] for j in range(per)] for i in range(num_processes)]


def _serve(model, cpus: list[int], tasks, results) -> None:
    os.sched_setaffinity(0, cpus)
    torch.set_num_threads(len(cpus))
    if hasattr(model, "forget_runtimes"):
        model.forget_runtimes()
    with torch.no_grad():
        for index, item in iter(tasks.get, None):
            try:
                results.put((index, _call(model, item)))
            except Exception as error:  # reported to the caller instead of killing the worker
                results.put((index, WorkerError(f"{type(error).__name__}: {error}")))


class WorkerError(RuntimeError):
    pass


def _call(model, item):
    """A tensor is one input, a tuple several positional ones, a dict keyword inputs."""
    if isinstance(item, dict):
        return model(**item)
    return model(*item) if isinstance(item, (tuple, list)) else model(item)


class MultiInstanceModel:
    """``outputs = multi(list_of_inputs)``: the inputs are spread over the workers, in order."""

    def __init__(self, model, num_processes=2, cores_per_process=None, cpu_for_each_process=None) -> None:
        context = mp.get_context("fork")
        self.tasks, self.results = context.Queue(), context.Queue()
        self.workers = [
            context.Process(target=_serve, args=(model, cpus, self.tasks, self.results), daemon=True)
            for cpus in cpu_sets(num_processes, cores_per_process, cpu_for_each_process)
        ]
        for worker in self.workers:
            worker.start()

    def __call__(self, inputs: list) -> list:
        for index, item in enumerate(inputs):
            self.tasks.put((index, item))
        outputs = dict(self.results.get() for _ in inputs)
        failed = [out for out in outputs.values() if isinstance(out, WorkerError)]
        if failed:
            raise failed[0]
        return [outputs[index] for index in range(len(inputs))]

    def close(self) -> None:
        for _ in self.workers:
            self.tasks.put(None)
        for worker in self.workers:
            worker.join(timeout=10)

    def __del__(self) -> None:
        if any(worker.is_alive() for worker in getattr(self, "workers", [])):
            self.close()
