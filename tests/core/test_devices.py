"""--device everywhere: one rule (salscope.devices), tested on the CPU with CUDA faked present or absent."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from salscope.cli import main
from salscope.devices import check_device, inference_autocast, lightning_devices, resolve_device
from salscope.errors import ConfigError


@pytest.fixture()
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


@pytest.fixture()
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


def test_auto_is_the_cpu_without_cuda_and_the_first_gpu_with_it(no_cuda, monkeypatch):
    assert resolve_device("auto") == torch.device("cpu") and resolve_device(None) == torch.device("cpu")
    assert lightning_devices("auto") == ("cpu", 1) and lightning_devices("cpu") == ("cpu", 1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert lightning_devices("cuda:1") == ("gpu", [1]) and lightning_devices("auto") == ("gpu", [0])


def test_errors_name_the_device_and_the_fix(no_cuda):
    with pytest.raises(ConfigError, match=r"--device cuda: CUDA is not available .*use --device cpu or auto"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match=r"is not a device; use auto, cpu, cuda, cuda:N or mps"):
        check_device("gpu")
    with pytest.raises(ConfigError, match=r"is not a device"):
        check_device("cpu:1")
    if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        with pytest.raises(ConfigError, match="MPS is not available"):
            resolve_device("mps")


def test_a_gpu_index_beyond_the_machine(two_gpus):
    with pytest.raises(ConfigError, match=r"has 2 CUDA device\(s\) \(cuda:0 … cuda:1\)"):
        resolve_device("cuda:2")


def test_autocast_leaves_the_cpu_alone():
    x = torch.randn(4, 4)
    with inference_autocast("cpu", amp=True):
        y = x @ x
    assert y.dtype == torch.float32 and torch.equal(y, x @ x)


@pytest.mark.parametrize("argv", [
    ["predict", "IMG", "--device", "cuda", "-o", "OUT"],
    ["evaluate", "center_bias", "--device", "cuda", "--max-images", "1", "-o", "OUT"],
    ["dissect", "-m", "efficientnet_lite0", "--layers", "block4", "--device", "cuda", "-o", "OUT"],
    ["compare", "-m", "efficientnet_lite0", "-m", "b=efficientnet_lite0", "--device", "cuda:0", "-o", "OUT"],
    ["train", "--device", "cuda", "--epochs", "1", "-o", "OUT"],
])
def test_every_command_refuses_an_absent_gpu_before_writing(argv, no_cuda, data_root, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SALSCOPE_DATA", str(data_root))
    image = sorted((data_root / "osie" / "stimuli").iterdir())[0]
    out = tmp_path / "out"
    argv = [str(image) if a == "IMG" else str(out) if a == "OUT" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "CUDA is not available" in err and "--device cpu" in err
    assert not out.exists()


def test_popout_and_study_check_the_device(no_cuda, tmp_path, capsys):
    from salscope.data.popout import generate_benchmark

    generate_benchmark(tmp_path / "set", preset="quick", seed=0)
    assert main(["popout", "evaluate", "-m", "builtin", "--set", str(tmp_path / "set"), "--device", "cuda",
                 "-o", str(tmp_path / "po")]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
    assert main(["study", "--quick", "--device", "gpu", "--show-config"]) == 2
    assert "is not a device" in capsys.readouterr().err
    assert main(["study", "--quick", "--device", "cpu", "--show-config"]) == 0
    assert 'device = "cpu"' in capsys.readouterr().out
    assert main(["train", "--device", "cpu", "--accelerator", "gpu", "-o", str(tmp_path / "t")]) == 2
    assert "excludes --accelerator/--devices" in capsys.readouterr().err


def test_cpu_results_do_not_change_with_device_or_amp(no_cuda):
    from salscope.models import saliency_model

    image = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    plain = saliency_model("builtin").saliency_map(image)
    placed = saliency_model("builtin", device="auto", amp=True).saliency_map(image)
    np.testing.assert_array_equal(plain, placed)
    # numpy models take the placement options and ignore them
    np.testing.assert_array_equal(saliency_model("gbvs", device="cpu").saliency_map(image),
                                  saliency_model("gbvs").saliency_map(image))
