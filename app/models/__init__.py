"""The data model of DESIGN.md; importing this package registers every table."""

from .change import data_changes
from .entry import Entry, entry_tags
from .evaluation import Answer, Evaluation, EvaluationKey
from .feature import entry_features
from .import_run import ImportRun
from .job_run import JobRun
from .live import SheetLiveField, SheetPresence
from .proposal import Proposal
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
    "Evaluation",
    "EvaluationKey",
    "ImportRun",
    "JobRun",
    "Proposal",
    "PushedEntry",
    "Relation",
    "Revision",
    "SheetLiveField",
    "SheetPresence",
    "Source",
    "SyncState",
    "Tag",
    "User",
    "UserSession",
    "data_changes",
    "entry_features",
    "entry_tags",
]
