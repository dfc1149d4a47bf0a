"""The data model of DESIGN.md; importing this package registers every table."""

from .change import data_changes
from .commune import Commune, CommuneLoad
from .entry import Entry, entry_tags
from .evaluation import Answer, Evaluation, EvaluationKey
from .feature import entry_features
from .field_source import EntryFieldSource
from .geocode import GeocodeAnswer
from .import_run import ImportRun
from .job_run import JobRun
from .link import IdentityLink
from .live import SheetLiveField, SheetPresence
from .map_cell import (
    map_cell_changes,
    map_cells,
    map_filter_chunks,
    map_filter_passes,
    map_filter_tags,
    tag_cell_changes,
    tag_cells,
)
from .proposal import Proposal
from .registered_source import RegisteredSource
from .relation import Relation
from .report import ErrorReport
from .revision import Revision
from .source import Source
from .source_exclusion import SourceExclusion
from .sync import PushedEntry, PushedSheet, SheetSource, SyncState
from .tag import Tag
from .user import ApiToken, User, UserSession
from .webhook import WebhookAttempt, WebhookDelivery, WebhookSubscriber

__all__ = [
    "Answer",
    "ApiToken",
    "Commune",
    "CommuneLoad",
    "Entry",
    "EntryFieldSource",
    "ErrorReport",
    "Evaluation",
    "EvaluationKey",
    "GeocodeAnswer",
    "IdentityLink",
    "ImportRun",
    "JobRun",
    "Proposal",
    "PushedEntry",
    "PushedSheet",
    "RegisteredSource",
    "Relation",
    "Revision",
    "SheetLiveField",
    "SheetPresence",
    "SheetSource",
    "Source",
    "SourceExclusion",
    "SyncState",
    "Tag",
    "User",
    "UserSession",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscriber",
    "data_changes",
    "entry_features",
    "entry_tags",
    "map_cell_changes",
    "map_cells",
    "map_filter_chunks",
    "map_filter_passes",
    "map_filter_tags",
    "tag_cell_changes",
    "tag_cells",
]
