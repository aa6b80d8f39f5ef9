"""SDK v3 mistakes in the user's own ModelTrainer and ModelBuilder code on a harness session:
one-screen errors with the fix, in the user's pytest run and from `harness.session()`. Skipped under v2."""

import pytest

import harness
from harness import sdk
from harness.errors import HarnessError
from tests.support.cli import run_inner

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(sdk.major() != 3, reason="SDK v3 user code; SDK v2 is installed")]

MISTAKES = '''
import pytest
from sagemaker.core.training.configs import Compute, SourceCode
from sagemaker.train import ModelTrainer


@pytest.mark.harness_modes("sagemaker-local")
def test_no_image(harness_session):
    sess = harness_session()
    ModelTrainer(source_code=SourceCode(source_dir=".", entry_script="test_user.py"),
                 compute=Compute(instance_type=sess.instance_type, instance_count=1),
                 role=sess.role, training_mode=sess.training_mode,
                 sagemaker_session=sess.sagemaker_session)


@pytest.mark.harness_modes("sagemaker-local")
def test_gpu_type(harness_session, tmp_path):
    sess = harness_session()
    (tmp_path / "train.py").write_text("print('trained')")
    trainer = ModelTrainer(
        training_image=sess.image_uri, role=sess.role, training_mode=sess.training_mode,
        source_code=SourceCode(source_dir=str(tmp_path), entry_script="train.py"),
        compute=Compute(instance_type="ml.p3.2xlarge", instance_count=1),
        sagemaker_session=sess.sagemaker_session, local_container_root=str(tmp_path))
    trainer.train()


@pytest.mark.harness_modes("sagemaker-local")
def test_model_not_on_s3(harness_session, tmp_path):
    sess = harness_session()
    from sagemaker.serve import ModelBuilder
    (tmp_path / "inference.py").write_text("")
    ModelBuilder(s3_model_data_url=f"file://{tmp_path}/model.tar.gz", image_uri=sess.image_uri,
                 source_code=SourceCode(source_dir=str(tmp_path), entry_script="inference.py"),
                 role_arn=sess.role, mode=sess.serving_mode,
                 sagemaker_session=sess.sagemaker_session).build()
'''


def test_v3_mistakes_are_one_screen_errors_with_the_fix(tmp_path):
    code, output = run_inner(tmp_path, MISTAKES)
    assert code == 1, output
    assert "3 failed" in output
    assert ("test_user.py:10: a ModelTrainer in sagemaker-local needs training_image"
            in output), output
    assert "fix: pass training_image=session.image_uri" in output
    assert ("test_user.py:25: ModelTrainer's Compute(instance_type='ml.p3.2xlarge') in "
            "sagemaker-local: local containers get no GPU" in output), output
    assert "fix: use Compute(instance_type=session.instance_type" in output
    assert ("test_user.py:36: ModelBuilder(s3_model_data_url='file://" in output
            and "leaves your inference code out" in output), output
    assert "fix: upload the model first: s3_model_data_url=sess.sagemaker_session" in output
    assert "Traceback" not in output and "pydantic" not in output
    assert "trained" not in output  # refused before any container ran


def test_the_checks_end_with_the_session(tmp_path):
    from pydantic import ValidationError
    from sagemaker.core.training.configs import SourceCode
    from sagemaker.train import ModelTrainer

    arguments = {"source_code": SourceCode(source_dir=str(tmp_path), entry_script="train.py")}
    with (harness.session("sagemaker-local", overrides={"run_dir": str(tmp_path / "run")}) as s,
          pytest.raises(HarnessError)):
        ModelTrainer(training_mode=s.training_mode, role=s.role,
                     sagemaker_session=s.sagemaker_session, **arguments)
    with pytest.raises(ValidationError, match="training_image"):
        ModelTrainer(training_mode=s.training_mode, **arguments)
