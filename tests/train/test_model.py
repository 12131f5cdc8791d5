"""The model registry: every arch builds with a replaced head; weights from files; no-network errors."""

from __future__ import annotations

import urllib.error

import pytest
import torch
from torch import nn

from manifests import InputError, NetworkError, UsageError
from train import model as M

from .conftest import make_dataset


@pytest.mark.parametrize("name", sorted(M.ARCHS))
def test_every_registered_arch_builds_with_a_new_head(name):
    arch = M.ARCHS[name]
    size = 224 if arch.patch else 64
    with torch.device("meta"):  # shapes only: no memory, no time
        net = M.build_model(name, 3, "none", size)
        out = net(torch.zeros(2, 3, size, size))
    assert out.shape == (2, 3)
    head = net.get_submodule(arch.head)
    assert isinstance(head, nn.Linear) and head.out_features == 3
    net.get_submodule(arch.cam_layer)
    groups = M.param_groups(net, arch)
    assert sum(len(g) for g in groups) == len(list(net.parameters()))
    assert groups[-1] == list(head.parameters())
    M.set_frozen(net, arch, True)
    assert {id(p) for p in net.parameters() if p.requires_grad} == {id(p) for p in head.parameters()}


def test_unknown_arch_lists_the_known_ones():
    with pytest.raises(UsageError, match="resnet18"):
        M.get_arch("vgg9000")


def test_binary_needs_two_classes():
    assert M.num_outputs(2, True) == 1 and M.num_outputs(5, False) == 5
    with pytest.raises(UsageError, match="exactly 2"):
        M.num_outputs(3, True)


def test_weights_file_is_loaded_except_the_head(tmp_path):
    torch.manual_seed(1)
    source = M.build_model("resnet18", 10, "none")
    torch.save(source.state_dict(), tmp_path / "w.pt")
    net = M.build_model("resnet18", 3, str(tmp_path / "w.pt"))
    assert torch.equal(net.conv1.weight, source.conv1.weight)
    assert torch.equal(net.layer4[1].conv2.weight, source.layer4[1].conv2.weight)
    assert net.fc.out_features == 3


def test_weights_file_for_another_arch_is_refused(tmp_path):
    torch.save(M.build_model("mobilenet_v3_large", 3, "none").state_dict(), tmp_path / "m.pt")
    with pytest.raises(InputError, match="do not fit"):
        M.build_model("resnet18", 3, str(tmp_path / "m.pt"))
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(InputError, match="cannot read"):
        M.build_model("resnet18", 3, str(tmp_path / "junk.pt"))


def test_imagenet_weights_not_cached_and_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(NetworkError) as err:
        M.build_model("resnet18", 3, "imagenet")
    message = str(err.value)
    assert "\n" not in message and "--weights none" in message and "resnet18-" in message
    assert str(tmp_path) in message


def test_imagenet_preprocessing_comes_from_the_weights():
    pre = M.preprocess_for(M.ARCHS["resnet50"], "imagenet", None)
    assert (pre.size, pre.resize) == (224, 232)  # resnet50's V2 weights resize to 232
    assert M.preprocess_for(M.ARCHS["resnet18"], "none", 64) == M.Preprocess(64, 64)
    with pytest.raises(UsageError, match="multiple of 16"):
        M.preprocess_for(M.ARCHS["vit_b_16"], "none", 40)


def test_cli_help_names_every_arch_and_a_misspelt_one_fails_before_torch_loads(tmp_path) -> None:
    """``train --help`` lists the registry, and ``--arch resnt18`` is a usage error in a process that
    never imported PyTorch (the registry, train.archs, imports none)."""
    import subprocess
    import sys

    from train import cli

    assert tuple(M.ARCHS) == cli.ARCH_NAMES
    manifest = make_dataset(tmp_path, per_split={"train": 2})
    probe = ("import sys, train.cli\ntry:\n    train.cli.main(sys.argv[1:])\nexcept SystemExit as e:\n"
             "    print('exit', e.code, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe, str(manifest), "--arch", "resnt18"],
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["exit", "2", "False"], done.stdout + done.stderr
    assert "unknown --arch 'resnt18'" in done.stderr and "resnet18" in done.stderr
