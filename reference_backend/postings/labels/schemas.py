"""Package labels: the PDF method and the asynchronous label tasks (§5.8)."""

from __future__ import annotations

from pydantic import Field

from reference_backend.schemas import Id64, LooseStr, OzonRequest, OzonResponse

MAX_LABEL_POSTINGS = 20


class PackageLabelRequest(OzonRequest):
    posting_number: list[LooseStr] = Field(min_length=1, max_length=MAX_LABEL_POSTINGS)


class LabelCreateV1V2Request(OzonRequest):
    posting_number: list[LooseStr] = Field(min_length=1, max_length=MAX_LABEL_POSTINGS)


class LabelCreateV3Request(OzonRequest):
    posting_numbers: list[LooseStr] = Field(min_length=1, max_length=MAX_LABEL_POSTINGS)


class LabelGetRequest(OzonRequest):
    task_id: Id64


class PackageLabelFile(OzonResponse):
    """The JSON wrapper some clients expect instead of the raw PDF."""

    content_type: str = "application/pdf"
    file_name: str
    file_content: str


class TaskIdResult(OzonResponse):
    task_id: int


class LabelCreateV1Response(OzonResponse):
    result: TaskIdResult


class LabelTask(OzonResponse):
    task_id: int
    task_type: str  # big_label | small_label


class LabelTasks(OzonResponse):
    tasks: list[LabelTask] = Field(default_factory=list)


class LabelCreateV2Response(OzonResponse):
    result: LabelTasks


class LabelCreateV3Response(LabelTasks):
    pass


class UnprintedV1(OzonResponse):
    posting_number: str
    msg: str = ""


class LabelGetV1Result(OzonResponse):
    status: str  # pending | in_progress | completed | error
    file_url: str = ""
    error: str = ""
    printed_postings_count: int = 0
    unprinted_postings: list[UnprintedV1] = Field(default_factory=list)
    unprinted_postings_count: int = 0


class LabelGetV1Response(OzonResponse):
    result: LabelGetV1Result


class UnprintedV2(OzonResponse):
    posting_number: str
    message: str = ""


class LabelStatusV2(OzonResponse):
    code: str
    postings_count: int = 0
    printed_postings_count: int = 0
    unprinted_postings: list[UnprintedV2] = Field(default_factory=list)


class LabelErrorV2(OzonResponse):
    code: str = ""
    message: str = ""


class LabelGetV2Response(OzonResponse):
    status: LabelStatusV2
    file_url: str = ""
    error: LabelErrorV2 = Field(default_factory=LabelErrorV2)
