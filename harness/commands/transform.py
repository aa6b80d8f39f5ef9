"""`harness transform`: a batch transform job on the trained model (or `model_data`), with the
config's `transform:` section; each input file gets its `<file>.out`, as on SageMaker."""

from harness import names
from harness.commands.deploy import model_to_serve
from harness.commands.dry_run import shown
from harness.job import Job
from harness.run_dir import TrainingResult, TransformResult

NO_SECTION = ("add a transform: section, e.g. transform: {data: ../data/sentiment/test.jsonl, "
              "content_type: application/json, split_type: Line, strategy: SingleRecord, "
              "assemble_with: Line}")


def transform(job: Job, model_data: str | None = None) -> TransformResult:
    """`model_data`: a model.tar.gz (path or s3:// URI) instead of the trained model."""
    job.require_section("transform", NO_SECTION)
    with job.step("transform"):
        artifact, remedy = model_to_serve(job, model_data)
        job.mode.check_model_data(artifact, remedy)
        result = job.mode.transform(names.job_name(job.config.name), artifact)
        job.run.save(transform=result)
        return result


def requests(job: Job, model_data: str | None = None) -> list[dict]:
    """The SageMaker requests of the transform job (CreateModel, CreateTransformJob), made to
    no one."""
    job.require_section("transform", NO_SECTION)
    trained = job.run.get(TrainingResult)
    artifact = model_data or job.config.resolve_model_data() or \
        (trained.model_artifact if trained else
         f"{job.config.s3_root}/<training-job>/output/model.tar.gz")
    return shown(job.mode.transform_requests(names.job_name(job.config.name), artifact))
