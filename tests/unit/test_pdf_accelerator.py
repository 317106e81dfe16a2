"""reportlab runs with its C accelerator: without it every number and string width is formatted in Python."""

from reportlab.lib import rl_accel


def test_reportlab_uses_the_compiled_accelerator() -> None:
    # rl_accel falls back to pure-Python functions, silently, when the `rl-accel` wheel is missing
    assert rl_accel.fp_str.__module__ == "_rl_accel"
    assert rl_accel.unicode2T1.__module__ == "_rl_accel"
