"""The data model of DESIGN.md; importing this package registers every table."""

from .change import data_changes
from .entry import Entry, entry_tags
from .evaluation import Answer, Evaluation, EvaluationKey
from .feature import entry_features
from .field_source import EntryFieldSource
from .import_run import ImportRun
from .job_run import JobRun
from .proposal import Proposal
from .registered_source import RegisteredSource
from .relation import Relation
from .revision import Revision
from .source import Source
from .sync import PushedEntry, SyncState
from .tag import Tag
from .user import ApiToken, User, UserSession

__all__ = [
    "Answer",
    "ApiToken",
    "Entry",
    "EntryFieldSource",
    "Evaluation",
    "EvaluationKey",
    "ImportRun",
    "JobRun",
    "Proposal",
    "PushedEntry",
    "RegisteredSource",
    "Relation",
    "Revision",
    "Source",
    "SyncState",
    "Tag",
    "User",
    "UserSession",
    "data_changes",
    "entry_features",
    "entry_tags",
]
