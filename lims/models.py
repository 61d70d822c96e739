"""Import every table so SQLModel.metadata is complete (app, Alembic, tests)."""

from .audit.models import AuditChainHead, AuditEntry, Signature  # noqa: F401
from .auth.models import LoginAttempt, User, UserSession  # noqa: F401
from .clinical.ae_models import AdverseEvent  # noqa: F401
from .clinical.course_models import Administration, CoTherapy, Course, CourseTemplate, Observation, Postponement  # noqa: F401
from .clinical.models import Recipient, RecipientIdentity  # noqa: F401
from .core.models import Counter, FormToken  # noqa: F401
from .donors.models import Donor, DonorIdentity, ProtocolItem, ScreeningProtocol  # noqa: F401
from .donors.screening_models import DonationDayCheck, EligibilityDecision, Screening, ScreeningResult  # noqa: F401
from .equipment.models import Equipment  # noqa: F401
from .jobs.models import JobRun, RetainedDisposal  # noqa: F401
from .labels.models import LabelPrint  # noqa: F401
from .lookback.models import (
    LookbackNotification,  # noqa: F401
)
from .manufacturing.models import (
    Donation,  # noqa: F401
)
from .reports.models import ReportExport  # noqa: F401
