"""A SLURM dry run shows the sbatch script submitit would submit (no cluster needed)."""

from tests.conftest import launch


def _dry_run(tmp_path, *extra: str) -> str:
    proc = launch(
        "-m", "+sweep=wd", "hardware=bouchet", "hydra.launcher.dry_run=true", *extra, cwd=tmp_path
    )
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing submitted
    return proc.stdout


def test_dry_run_prints_the_array_script_and_each_tasks_logs(tmp_path):
    out = _dry_run(tmp_path, "hydra.launcher.pack=false", "hydra.launcher.account=pi_alice")
    script = out[out.index("#!/bin/bash") :]
    for line in [
        "#SBATCH --array=0-6%7",  # one array task per job (pack=false)
        "#SBATCH --partition=gpu_h100",
        "#SBATCH --account=pi_alice",
        "#SBATCH --gpus=h100:1",
        "#SBATCH --time=360",
        "#SBATCH --signal=USR2@120",
        "#SBATCH --mem=32GB",
        "# setup",
        "module reset",
        "-m submitit.core._submit",
    ]:
        assert line in script, line
    assert script.index("# setup") < script.index("srun --unbuffered")
    for task in range(7):
        assert f"task {task}: log " in out
        assert f".submitit/%A_{task}/%A_{task}_0_log.out" in out
    assert str(tmp_path / "multirun") in out and "_optim.wd=5.0" in out  # the run dirs


def test_one_pack_is_one_plain_job(tmp_path):
    """Packed (the default), the 7 runs are one submission: no --array, logs under %j."""
    out = _dry_run(tmp_path)
    assert "#SBATCH --array" not in out and "#SBATCH --gpus=h100:1" in out
    assert ".submitit/%j/%j_0_log.out" in out and out.count("    run dir ") == 7
